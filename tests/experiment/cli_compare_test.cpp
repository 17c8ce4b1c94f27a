// The `grace compare` and `grace simulate` commands end to end: the README's main job and the
// error path (exit 2, one line naming the bad flag).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "report/run_command.h"
#include "report/xml_check.h"

namespace {

namespace fs = std::filesystem;
using grace::testing::CmdResult;
using grace::testing::run;

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
    result_ = run(std::string(GRACE_CLI_PATH) +
                  " compare --model deepseek-v2-lite --topology 2x4 --synth-tokens 8192 "
                  "--sweep-memory --sweep-pct 0 --sweep-pct 25 -o " +
                  (dir_ / "out").string());
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static inline fs::path dir_;
  static inline CmdResult result_;
};

TEST_F(CliCompare, WritesTheReports) {
  ASSERT_EQ(result_.code, 0) << result_.out;
  EXPECT_NE(result_.out.find("compare [10/10] grace/cover/hierarchical (redundant 0)"), std::string::npos)
      << result_.out;
  EXPECT_NE(result_.out.find("sweep [4/4] 25% extra memory: eplb/tar/hierarchical (redundant 16)"), std::string::npos)
      << result_.out;
  EXPECT_NE(result_.out.find("report.html"), std::string::npos);
  for (const char* f : {"report.md", "report.html", "results.json"})
    EXPECT_TRUE(fs::is_regular_file(dir_ / "out" / f)) << f;
  const std::string html = slurp(dir_ / "out" / "report.html");
  EXPECT_EQ(grace::testing::check_well_formed(html), "");
  EXPECT_NE(html.find("Cross-node traffic vs extra expert memory"), std::string::npos);
}

// --threads reaches the profile and the planners, and the results do not depend on it: every
// row's traffic, load and simulated time are the same with one thread as with the default.
TEST(CliCompareThreads, OneThreadGivesTheSameRows) {
  const fs::path dir = fs::temp_directory_path() / ("grace_cli_compare_threads_" + std::to_string(::getpid()));
  auto rows = [&](const std::string& opts, const std::string& name) {
    CmdResult r = run(std::string(GRACE_CLI_PATH) + " compare --model gpt-oss-20b --topology 4x2 --synth-tokens 4096 " +
                      opts + " --json -o " + (dir / name).string());
    EXPECT_EQ(r.code, 0) << r.out;
    const size_t at = r.out.rfind("\n{\n");  // the JSON after the progress lines
    nlohmann::json j = nlohmann::json::parse(r.out.substr(at == std::string::npos ? 0 : at + 1), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out.substr(0, 400);
    std::vector<std::string> out;
    for (auto& row : j["rows"])
      out.push_back(row["label"].dump() + " " + row["inter_mb_per_batch"].dump() + " " + row["load_max_mean"].dump() +
                    " " + row["time"].dump());
    return out;
  };
  const auto dflt = rows("", "default");
  EXPECT_GE(dflt.size(), 8u);
  EXPECT_EQ(rows("--threads 1", "one"), dflt);
  CmdResult bad = run(std::string(GRACE_CLI_PATH) + " compare --threads 300 -o " + (dir / "bad").string());
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("grace: error: --threads 300 must be in [0, 256]"), std::string::npos) << bad.out;
  EXPECT_FALSE(fs::exists(dir / "bad"));
  fs::remove_all(dir);
}

TEST(CliSimulate, PlanThenSimulatePrintsTimes) {
  fs::path dir = fs::temp_directory_path() / ("grace_cli_simulate_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string g = GRACE_CLI_PATH;
  const std::string tr = (dir / "tr").string(), pl = (dir / "p.json").string();
  ASSERT_EQ(run(g + " trace synth --model gpt-oss-20b --tokens 2048 -o " + tr).code, 0);
  ASSERT_EQ(run(g + " plan --model gpt-oss-20b --policy contiguous --trace " + tr + " -o " + pl).code, 0);
  CmdResult text = run(g + " simulate --trace " + tr + " --placement " + pl + " --batch-tokens 1024");
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("MoE-layer time per batch"), std::string::npos) << text.out;
  CmdResult json = run(g + " simulate --trace " + tr + " --placement " + pl + " --comm flat --router primary --json");
  ASSERT_EQ(json.code, 0) << json.out;
  EXPECT_NE(json.out.find("\"comm\":\"flat\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"mean_layer\""), std::string::npos);
  CmdResult bad = run(g + " simulate --trace " + tr + " --placement " + pl + " --comm bogus");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("bogus"), std::string::npos) << bad.out;
  fs::remove_all(dir);
}

TEST(CliErrors, BadFlagsExitTwoWithOneLine) {
  fs::path dir = fs::temp_directory_path() / ("grace_cli_bad_" + std::to_string(::getpid()));
  CmdResult r = run(std::string(GRACE_CLI_PATH) + " compare --topology 3z2 -o " + (dir / "bad").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("3z2"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "bad" / "report.html"));
  CmdResult sw =
      run(std::string(GRACE_CLI_PATH) + " compare --sweep-memory --sweep-pct -5 -o " + (dir / "bad").string());
  EXPECT_EQ(sw.code, 2) << sw.out;
  EXPECT_NE(sw.out.find("grace: error: --sweep-pct: '-5' is negative"), std::string::npos) << sw.out;
  EXPECT_FALSE(fs::exists(dir / "bad"));
  // The level's own flag is named; a level given twice would make two identical sweep rows.
  for (const auto& [pcts, what] : std::initializer_list<std::pair<std::string, std::string>>{
           {"--sweep-pct 1e9", "grace: error: --sweep-pct: extra memory 1000000000% must be in [0, 1000]"},
           {"--sweep-pct 25 --sweep-pct 25", "grace: error: --sweep-pct: 25% is given twice"}}) {
    CmdResult b =
        run(std::string(GRACE_CLI_PATH) + " compare --sweep-memory " + pcts + " -o " + (dir / "bad").string());
    EXPECT_EQ(b.code, 2) << b.out;
    EXPECT_NE(b.out.find(what), std::string::npos) << b.out;
    EXPECT_FALSE(fs::exists(dir / "bad"));
  }
  // --split: an unknown rule, and halves with --plan-trace (nothing to cut), before any work.
  for (const auto& [args, what] : std::initializer_list<std::pair<std::string, std::string>>{
           {"--split odd-even", "grace: error: --split: unknown split 'odd-even' (valid: even-odd, halves)"},
           {"--synth-tokens 0", "grace: error: --synth-tokens 0: the synthetic trace needs at least 2 tokens"},
           {"--split halves --plan-trace synthetic:deepseek-v2-lite:512:3",
            "grace: error: --split halves cuts the --trace into planning and evaluated traffic"}}) {
    CmdResult b = run(std::string(GRACE_CLI_PATH) + " compare " + args + " -o " + (dir / "bad").string());
    EXPECT_EQ(b.code, 2) << b.out;
    EXPECT_NE(b.out.find(what), std::string::npos) << b.out;
    EXPECT_FALSE(fs::exists(dir / "bad"));
  }
  CmdResult s =
      run(std::string(GRACE_CLI_PATH) + " simulate --trace /nonexistent/x.npy --placement /nonexistent/p.json");
  EXPECT_EQ(s.code, 2) << s.out;
}

}  // namespace
