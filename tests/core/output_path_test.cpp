// check_can_create (core/output_path.h): an output place is probed before the work. Paths whose
// folders do not exist yet (the writers create them) must pass, relative ones too, and nothing
// may be left behind by the probe; a place that refuses new entries fails naming the path.
#include "core/output_path.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "grace/error.h"

namespace fs = std::filesystem;

namespace grace {
namespace {

class OutputPath : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("grace-outpath-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    old_cwd_ = fs::current_path();
    fs::current_path(dir_);
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    fs::remove_all(dir_);
  }
  bool empty_dir() const { return fs::directory_iterator(dir_) == fs::directory_iterator(); }
  fs::path dir_, old_cwd_;
};

TEST_F(OutputPath, MissingFoldersRelativeOrAbsolutePassAndLeaveNothing) {
  for (const std::string p : {"report.md", "out/compare", "out/deeper/still/x.json", "./out/x"}) {
    EXPECT_NO_THROW(check_can_create(p)) << p;
    EXPECT_TRUE(empty_dir()) << p;
  }
  EXPECT_NO_THROW(check_can_create((dir_ / "a/b/c.json").string()));
  EXPECT_TRUE(empty_dir());
}

TEST_F(OutputPath, APlaceThatRefusesEntriesFailsNamingIt) {
  try {
    check_can_create("/proc/grace-no-such-output/report.md");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/proc/grace-no-such-output/report.md"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace grace
