// StagedDir under signals: a run stopped before commit leaves neither the staging folder nor
// the parent folders it created for the target.
#include "core/staged_dir.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

namespace grace {
namespace {

namespace fs = std::filesystem;

// In a child: stage `target` (creating its missing parents), write one file, then die of `sig`
// before commit. Returns the signal the child died of (0 if it did not).
int stage_and_die(const std::string& target, int sig) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    install_cleanup_handlers();
    StagedDir d(target, {"a.txt"});
    d.write("a.txt", "half of a report\n");
    ::raise(sig);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

TEST(StagedDir, SignalBeforeCommitRemovesStagingAndCreatedParents) {
  const fs::path root = fs::temp_directory_path() / ("grace-staged-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "kept");
  fs::create_directories(root / "busy");
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    EXPECT_EQ(stage_and_die((root / "new1" / "new2" / "out").string(), sig), sig);
    EXPECT_FALSE(fs::exists(root / "new1")) << "signal " << sig;  // created parents gone
    EXPECT_EQ(stage_and_die((root / "kept" / "out").string(), sig), sig);
    EXPECT_TRUE(fs::exists(root / "kept"));  // an existing parent stays
    EXPECT_TRUE(fs::is_empty(root / "kept"));
  }
  // A created parent that someone else wrote into meanwhile is not emptied: only rmdir.
  const pid_t pid = ::fork();
  if (pid == 0) {
    install_cleanup_handlers();
    StagedDir d((root / "new3" / "out").string(), {"a.txt"});
    std::FILE* f = std::fopen((root / "new3" / "theirs.txt").string().c_str(), "w");
    if (f) std::fputs("not grace's\n", f), std::fclose(f);
    ::raise(SIGTERM);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(fs::exists(root / "new3" / "theirs.txt"));
  EXPECT_FALSE(fs::exists(root / "new3" / (".out.tmp." + std::to_string(pid))));
  fs::remove_all(root);
}

}  // namespace
}  // namespace grace
