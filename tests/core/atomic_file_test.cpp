// Atomic output files (src/core/atomic_file.h) under failure: a write that fails part-way
// (the file size limit is hit, as on a full disk) must leave the previous file byte for byte
// and no temporary beside it; a write that succeeds replaces the file whole.
#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "grace/error.h"

namespace fs = std::filesystem;

namespace grace {
namespace {

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("grace-atomic-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> entries() const {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_)) v.push_back(e.path().filename().string());
    return v;
  }

  fs::path dir_;
};

TEST_F(AtomicFile, ReplacesWholeAndLeavesNoTemporary) {
  const std::string path = (dir_ / "out.json").string();
  write_file_atomic(path, "old content\n");
  write_file_atomic(path, "new\n");
  EXPECT_EQ(read_file(path), "new\n");
  EXPECT_EQ(entries(), std::vector<std::string>{"out.json"});
}

TEST_F(AtomicFile, TemporaryIsBesideAndDistinct) {
  const std::string path = (dir_ / "placement.json").string();
  const std::string tmp = temp_path_for(path);
  EXPECT_NE(tmp, path);
  EXPECT_EQ(fs::path(tmp).parent_path(), fs::path(path).parent_path());  // rename stays in one file system
}

// Runs write_file_atomic(path, content) in a child process whose file size limit is
// `limit_bytes` (SIGXFSZ ignored, so the write fails with EFBIG like a full disk). Returns
// 0 when the child got an InputError naming the path, 1 when the write succeeded, 2 otherwise.
int write_with_size_limit(const std::string& path, const std::string& content, rlim_t limit_bytes) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit rl{limit_bytes, limit_bytes};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(3);
    try {
      write_file_atomic(path, content);
      ::_exit(1);
    } catch (const InputError& e) {
      ::_exit(std::string(e.what()).find(path) != std::string::npos ? 0 : 2);
    } catch (...) {
      ::_exit(2);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST_F(AtomicFile, FailedWriteKeepsTheOldFileAndNoTemporary) {
  const std::string path = (dir_ / "report.html").string();
  const std::string old = "<html>the previous, complete report</html>\n";
  write_file_atomic(path, old);
  const std::string big(256 * 1024, 'x');  // far over the limit: fails part-way
  EXPECT_EQ(write_with_size_limit(path, big, 16 * 1024), 0);
  EXPECT_EQ(read_file(path), old);
  EXPECT_EQ(entries(), std::vector<std::string>{"report.html"});
  // The same content under a limit it fits in goes through.
  EXPECT_EQ(write_with_size_limit(path, big, 1024 * 1024), 1);
  EXPECT_EQ(read_file(path), big);
  EXPECT_EQ(entries(), std::vector<std::string>{"report.html"});
}

TEST_F(AtomicFile, FailedWriteOfANewFileLeavesNothing) {
  const std::string path = (dir_ / "new.json").string();
  EXPECT_EQ(write_with_size_limit(path, std::string(64 * 1024, 'y'), 4096), 0);
  EXPECT_TRUE(entries().empty());
}

TEST_F(AtomicFile, UnwritablePlaceIsAnInputErrorNamingThePath) {
  // A regular file where a directory should be: cannot be created, even as root.
  write_file_atomic((dir_ / "file").string(), "x");
  const std::string path = (dir_ / "file" / "out.json").string();
  try {
    write_file_atomic(path, "content");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"file"});
  EXPECT_EQ(read_file((dir_ / "file").string()), "x");
}

TEST_F(AtomicFile, CommitOfAMissingTemporaryKeepsTheTarget) {
  const std::string path = (dir_ / "t.npy").string();
  write_file_atomic(path, "old");
  EXPECT_THROW(commit_file(temp_path_for(path), path), InputError);
  EXPECT_EQ(read_file(path), "old");
}

}  // namespace
}  // namespace grace
