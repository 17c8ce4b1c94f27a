// `grace plan --policy all` writes one placement per policy (and --dump-loads): the files
// appear as a set, all of them or none (core/staged_files.h), and every one of their paths is
// checked before the work.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/staged_files.h"
#include "grace/error.h"
#include "reliability/cli_run.h"
#include "reliability/fixtures.h"

namespace grace::reliability {
namespace {

std::map<std::string, std::string> files_in(const std::string& dir) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::directory_iterator(dir)) m[e.path().filename().string()] = slurp_file(e.path().string());
  return m;
}

class PlanOutputSet : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("grace-planset-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string at(const std::string& rel) const { return dir_ + "/" + rel; }
  // plan --policy all into folder `sub` (2x2, the built-in synthetic trace), under a file size
  // limit in KiB when limit_kib > 0 (SIGXFSZ ignored: writes fail with EFBIG, as on a full disk).
  CliResult plan_all(const std::string& sub, int limit_kib) const {
    std::string cmd = "trap '' XFSZ; " + (limit_kib > 0 ? "ulimit -f " + std::to_string(limit_kib) + "; " : "") +
                      "exec " + shell_quote(cli_path()) + " plan --policy all --topology 2x2 -o " +
                      shell_quote(at(sub + "/x.json")) + " --dump-loads " + shell_quote(at(sub + "/loads.json"));
    const std::string err = at(sub + ".err");
    const int status = std::system(("bash -c " + shell_quote(cmd) + " >/dev/null 2>" + shell_quote(err)).c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = slurp_file(err);
    return r;
  }
  std::string dir_;
};

// One policy's file cannot be written: none of the others appears, and old files of the same
// names keep their old bytes (before: the policies planned first were written, then the error).
TEST_F(PlanOutputSet, AllFilesOrNone) {
  fs::create_directories(at("fresh"));
  const CliResult ok = plan_all("fresh", 0);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  const auto fresh = files_in(at("fresh"));
  ASSERT_GE(fresh.size(), 3u);
  size_t smallest = SIZE_MAX, biggest = 0;
  for (const auto& [name, bytes] : fresh)
    smallest = std::min(smallest, bytes.size()), biggest = std::max(biggest, bytes.size());
  // A limit between the smallest and the biggest file: some files are written whole first.
  const int limit_kib = int(biggest / 1024);
  if (!(smallest < size_t(limit_kib) * 1024 && size_t(limit_kib) * 1024 < biggest))
    GTEST_SKIP() << "the files are too alike in size (" << smallest << " to " << biggest << " bytes) for a limit";
  fs::create_directories(at("set"));
  for (const auto& [name, bytes] : fresh)
    if (name != "loads.json") write_text(at("set/" + name), "old bytes of " + name);
  const auto before = files_in(at("set"));
  const CliResult r = plan_all("set", limit_kib);
  EXPECT_USER_ERROR(r, "File too large");
  EXPECT_EQ(files_in(at("set")), before) << "a file of the set was written, removed or left as a temporary";
}

// Every per-policy path is checked before profiling and planning: one in the way stops the
// run with nothing written.
TEST_F(PlanOutputSet, EveryPathIsCheckedFirst) {
  fs::create_directories(at("way/x.grace.json"));
  const CliResult r = plan_all("way", 0);
  EXPECT_USER_ERROR(r, "x.grace.json", "is a folder");
  EXPECT_EQ(files_in(at("way")).size(), 1u);
}

// A rename failing part-way puts back what was already renamed (the unit under the CLI).
TEST_F(PlanOutputSet, FailedRenamePutsBackTheEarlierFiles) {
  fs::create_directories(at("a"));
  fs::create_directories(at("b"));
  write_text(at("a/one.json"), "old one");
  {
    StagedFiles files;
    files.write(at("a/one.json"), "new one");
    files.write(at("a/two.json"), "new two");
    files.write(at("b/three.json"), "new three");
    fs::remove_all(at("b"));  // its temporary goes with it: the third rename fails
    EXPECT_THROW(files.commit(), InputError);
  }
  EXPECT_EQ(files_in(at("a")), (std::map<std::string, std::string>{{"one.json", "old one"}}));
  // Destroyed without commit: the temporaries go.
  {
    StagedFiles files;
    files.write(at("a/four.json"), "four");
  }
  EXPECT_EQ(files_in(at("a")).size(), 1u);
  // And a commit that works replaces and creates.
  {
    StagedFiles files;
    files.write(at("a/one.json"), "new one");
    files.write(at("a/two.json"), "new two");
    files.commit();
  }
  EXPECT_EQ(files_in(at("a")), (std::map<std::string, std::string>{{"one.json", "new one"}, {"two.json", "new two"}}));
}

}  // namespace
}  // namespace grace::reliability
