// The `grace compare` and `grace simulate` commands end to end, and the report in a real browser
// (headless Chromium) when one is installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "report/xml_check.h"

namespace {

namespace fs = std::filesystem;

struct Run {
  int code = -1;
  std::string out;
};

Run run(const std::string& cmd) {
  Run r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliCompare : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("grace_cli_compare_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // The README's main job, on a smaller synthetic trace to keep the test fast.
    result_ = run(std::string(GRACE_CLI_PATH) + " compare --model deepseek-v2-lite --topology 2x4 --synth-tokens 8192 -o " +
                  (dir_ / "out").string());
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static inline fs::path dir_;
  static inline Run result_;
};

TEST_F(CliCompare, WritesTheReports) {
  ASSERT_EQ(result_.code, 0) << result_.out;
  EXPECT_NE(result_.out.find("compare [7/7] grace/load-aware/hierarchical"), std::string::npos) << result_.out;
  EXPECT_NE(result_.out.find("report.html"), std::string::npos);
  for (const char* f : {"report.md", "report.html", "results.json"})
    EXPECT_TRUE(fs::is_regular_file(dir_ / "out" / f)) << f;
  EXPECT_EQ(grace::testing::check_well_formed(slurp(dir_ / "out" / "report.html")), "");
}

TEST_F(CliCompare, BadFlagsExitTwoWithOneLine) {
  Run r = run(std::string(GRACE_CLI_PATH) + " compare --topology 3z2 -o " + (dir_ / "bad").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("3z2"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "bad" / "report.html"));
  Run s = run(std::string(GRACE_CLI_PATH) + " simulate --trace /nonexistent/x.npy --placement /nonexistent/p.json");
  EXPECT_EQ(s.code, 2) << s.out;
}

TEST_F(CliCompare, ChromiumRendersTheCharts) {
  const char* chromium = "/usr/bin/chromium";
  if (!fs::exists(chromium)) GTEST_SKIP() << "chromium is not installed (apt-get install chromium) - browser check skipped";
  ASSERT_EQ(result_.code, 0) << result_.out;
  fs::path html = dir_ / "out" / "report.html";
  fs::path profile = dir_ / "chromium-profile";
  Run r = run(std::string(chromium) + " --headless --no-sandbox --disable-gpu --user-data-dir=" + profile.string() +
              " --dump-dom file://" + html.string());
  ASSERT_EQ(r.code, 0) << r.out;
  // The DOM the browser built holds the table and every chart.
  size_t svgs = 0;
  for (size_t p = r.out.find("<svg"); p != std::string::npos; p = r.out.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 7u) << r.out.substr(0, 2000);
  EXPECT_NE(r.out.find("grace/tar/hierarchical"), std::string::npos);
  EXPECT_NE(r.out.find("<polyline"), std::string::npos);
}

}  // namespace
