// `grace replan` and `grace drift` end to end: budgets, files written (or not), and bad input
// (a placement for another model or topology, a negative budget, an empty stream) answered by
// one `grace: error:` line, exit 2 and no output file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "cli/cli_runner.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/topology.h"

namespace grace {
namespace {

using testing::CliResult;
using testing::run_grace;
using testing::TempDir;

// An ids file of shape [0, 26, 6] (uint8): a stream without tokens.
void write_empty_ids(const std::string& path) {
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 26, 6), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t n = uint16_t(header.size());
  f.put(char(n & 0xff)).put(char(n >> 8));
  f << header;
}

class ReplanCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("replan");
    for (const auto& [model, tokens, seed, name] :
         {std::tuple{"deepseek-v2-lite", 2048, 1, "old"}, std::tuple{"deepseek-v2-lite", 2048, 5, "recent"},
          std::tuple{"gpt-oss-20b", 256, 1, "other"}}) {
      CliResult t = run_grace(std::string("trace synth --model ") + model + " --tokens " + std::to_string(tokens) +
                              " --seed " + std::to_string(seed) + " --no-weights -o '" + dir_->file(name) + "'");
      ASSERT_EQ(t.code, 0) << t.err;
    }
    kOld = "'" + dir_->file("old") + "'";
    kRecent = "'" + dir_->file("recent") + "'";
    kOther = "'" + dir_->file("other") + "'";
    CliResult r = run_grace("plan --trace " + kOld + " -o '" + old_path() + "'");
    ASSERT_EQ(r.code, 0) << r.err;
    write_empty_ids(empty_path());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string old_path() { return dir_->file("old.json"); }
  static std::string empty_path() { return dir_->file("empty_topk_ids.npy"); }

  // The command must fail with one error line naming `what`, exit 2, and write nothing.
  static void expect_refused(const std::string& args, const std::string& what) {
    TempDir out("refused");
    const std::string file = out.file("new.json");
    CliResult r = run_grace(args + " -o '" + file + "'");
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(r.err_lines(), 1) << r.err;
    EXPECT_EQ(r.err.rfind("grace: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(file));
    EXPECT_EQ(r.out, "");
  }
  static TempDir* dir_;
  static std::string kOld, kRecent, kOther;
};
TempDir* ReplanCli::dir_ = nullptr;
std::string ReplanCli::kOld, ReplanCli::kRecent, ReplanCli::kOther;

TEST_F(ReplanCli, ZeroBudgetWritesTheOldPlacementAndBudgetsHold) {
  TempDir out("replan0");
  CliResult r = run_grace("replan --placement '" + old_path() + "' --trace " + kRecent + " --max-moves 0 -o '" +
                          out.file("new.json") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(placement_hash(load_placement(out.file("new.json"))), placement_hash(load_placement(old_path())));
  EXPECT_NE(r.out.find("moved       0 instances"), std::string::npos) << r.out;

  const Placement old = load_placement(old_path());
  const int64_t eb = load_model("deepseek-v2-lite").expert_bytes();
  for (const std::string& budget :
       std::vector<std::string>{"--max-moves 7", "--max-move-bytes " + std::to_string(3 * eb + eb / 2)}) {
    SCOPED_TRACE(budget);
    r = run_grace("replan --placement '" + old_path() + "' --trace " + kRecent + " " + budget + " --json -o '" +
                  out.file("b.json") + "'");
    ASSERT_EQ(r.code, 0) << r.err;
    const int64_t limit = budget.rfind("--max-moves", 0) == 0 ? 7 : 3;
    const auto pos = r.out.find("\"moves\":");
    ASSERT_NE(pos, std::string::npos) << r.out;
    const int64_t moves = std::stoll(r.out.substr(pos + 8));
    EXPECT_LE(moves, limit);
    EXPECT_GT(moves, 0);  // the synthetic seeds differ: something gains
    const Placement p = load_placement(out.file("b.json"));
    EXPECT_NO_THROW(validate_placement(p, parse_topology("2x4"), load_model("deepseek-v2-lite")));
  }
}

// --threads reaches the profile, the search and the full plan; the new placement is the same
// with one thread as with the default (one per core).
TEST_F(ReplanCli, ThreadsDoNotChangeTheNewPlacement) {
  TempDir out("replan-threads");
  uint64_t hashes[2];
  int i = 0;
  for (const std::string opts : {"", "--threads 1"}) {
    CliResult r = run_grace("replan --placement '" + old_path() + "' --trace " + kRecent + " --max-moves 12 " + opts +
                            " -o '" + out.file(std::to_string(i) + ".json") + "'");
    ASSERT_EQ(r.code, 0) << r.err;
    hashes[i] = placement_hash(load_placement(out.file(std::to_string(i) + ".json")));
    ++i;
  }
  EXPECT_EQ(hashes[1], hashes[0]);
  EXPECT_NE(hashes[0], placement_hash(load_placement(old_path())));  // something moved
}

TEST_F(ReplanCli, BadInputIsOneErrorLineExit2AndNoOutput) {
  const std::string base = "replan --placement '" + old_path() + "' ";
  expect_refused(base + "--trace " + kRecent + " --model gpt-oss-20b", "planned for model 'deepseek-v2-lite'");
  expect_refused(base + "--trace " + kOther, "is for model 'deepseek-v2-lite'");
  expect_refused(base + "--trace " + kRecent + " --topology 4x8", "planned for 2x4 GPUs");
  expect_refused(base + "--trace " + kRecent + " --max-moves -3", "--max-moves: '-3' is negative");
  expect_refused(base + "--trace " + kRecent + " --max-move-bytes -1", "--max-move-bytes");
  expect_refused(base + "--trace " + kRecent + " --max-moves 2 --max-move-bytes 9", "not both");
  expect_refused(base + "--trace '" + empty_path() + "'", "no tokens");
  expect_refused(base + "--trace " + kRecent + " --horizon-tokens 0", "--horizon-tokens");
  expect_refused(base + "--trace " + kRecent + " --threads 999", "--threads 999 must be in [0, 256]");
  // -o over an input: the placement read, or a trace's gate weights (a file of the trace folder
  // that replan does not read): refused once the inputs are read, before the re-plan.
  TempDir t("replan-inputs");
  const std::string trace = t.file("tw");
  ASSERT_EQ(run_grace("trace synth --model deepseek-v2-lite --tokens 1024 --seed 5 -o '" + trace + "'").code, 0);
  const std::string weights = trace + "/topk_weights_f32.npy.gz";
  ASSERT_TRUE(std::filesystem::exists(weights));
  const std::string placement = testing::slurp(old_path()), w = testing::slurp(weights);
  for (const std::string& out : {old_path(), weights}) {
    SCOPED_TRACE(out);
    CliResult r = run_grace(base + "--trace '" + trace + "' -o '" + out + "'");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err_lines(), 1) << r.err;
    EXPECT_NE(r.err.find("is also an input of this command"), std::string::npos) << r.err;
  }
  EXPECT_EQ(testing::slurp(old_path()), placement);
  EXPECT_EQ(testing::slurp(weights), w);
}

// --horizon-tokens: a move is made only when it pays for its bytes within that many tokens; the
// JSON reports the threshold (expert_bytes / (2 x token_bytes x T)), and a horizon too short for
// any move to pay keeps the placement.
TEST_F(ReplanCli, HorizonTokensMakesMovesPayForTheirBytes) {
  TempDir out("horizon");
  const ModelSpec m = load_model("deepseek-v2-lite");
  const double t = 409600;
  CliResult r = run_grace("replan --placement '" + old_path() + "' --trace " + kRecent +
                          " --horizon-tokens 409600 --json -o '" + out.file("h.json") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto num = [&](const std::string& key) {
    const auto pos = r.out.find("\"" + key + "\":");
    EXPECT_NE(pos, std::string::npos) << key << " in " << r.out;
    return pos == std::string::npos ? -1.0 : std::stod(r.out.substr(pos + key.size() + 3));
  };
  EXPECT_NEAR(num("min_visits_per_move"), double(m.expert_bytes()) / (2.0 * double(m.token_bytes()) * t), 1e-12);
  r = run_grace("replan --placement '" + old_path() + "' --trace " + kRecent + " --horizon-tokens 10 --json -o '" +
                out.file("short.json") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(num("moves"), 0);  // 10 tokens repay no 17 MB copy
  EXPECT_NE(r.out.find("\"stopped_at_break_even\":true"), std::string::npos) << r.out;
  EXPECT_EQ(placement_hash(load_placement(out.file("short.json"))), placement_hash(load_placement(old_path())));
}

TEST_F(ReplanCli, DriftReportsWindowsAndStrategies) {
  TempDir out("drift");
  const std::string html = out.file("d.html");
  CliResult r =
      run_grace("drift --placement '" + old_path() + "' --trace " + kOld + " --trace " + kRecent +
                " --window 1024 --max-moves 20 --strategies static,grace:2,replan --json --html '" + html + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"windows\":["), std::string::npos);
  EXPECT_NE(r.out.find("\"name\":\"replan\""), std::string::npos);
  EXPECT_NE(r.err.find("window 4 / 4"), std::string::npos) << r.err;  // progress
  // Default --move-break-even auto: the model's break-even over --horizon x --batch-tokens.
  const ModelSpec m = load_model("deepseek-v2-lite");
  const auto pos = r.out.find("\"min_visits_per_move\":");
  ASSERT_NE(pos, std::string::npos) << r.out;
  EXPECT_NEAR(std::stod(r.out.substr(pos + 22)),
              double(m.expert_bytes()) / (2.0 * double(m.token_bytes()) * 100 * 4096), 1e-12);
  const std::string page = testing::slurp(html);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("</html>"), std::string::npos);

  const std::string base = "drift --placement '" + old_path() + "' --html '" + out.file("x.html") + "' ";
  for (const auto& [args, what] : std::initializer_list<std::pair<std::string, std::string>>{
           {"--trace " + kRecent + " --window 0", "--window"},
           {"--trace " + kRecent + " --window 100000000", "fewer than two windows and nothing to compare"},
           {"--trace " + kRecent + " --window 512 --max-moves -1", "--max-moves: '-1' is negative"},
           {"--trace '" + empty_path() + "' --window 512", "no tokens"},
           {"--trace " + kRecent + " --window 512 --topology 2x8", "planned for 2x4 GPUs"},
           {"--trace " + kRecent + " --window 512 --strategies static,periodic", "unknown strategy 'periodic'"},
           {"--trace " + kRecent + " --window 512 --strategies static,,replan", "empty entry in 'static,,replan'"},
           {"--trace " + kRecent + " --window 512 --strategies static,", "empty entry in 'static,'"},
           {"--trace " + kRecent + " --window 512 --strategies grace:2x", "K must be a positive whole number"},
           {"--trace " + kRecent + " --window 512 --strategies eplb:0", "K must be a positive whole number"},
           {"--trace " + kRecent + " --window 512 --strategies static,grace:1,static", "'static' is given twice"},
           // One re-plan per window: 40k windows of one token would run for half an hour.
           {"--trace synthetic:deepseek-v2-lite:40000:1 --window 1",
            "re-plans x GPUs x experts x layers = 40000 x 8 x 64 x 26"},
           {"--trace " + kRecent + " --window 512 --batching nope", "--batching: unknown batching 'nope'"},
           {"--trace " + kRecent + " --window 512 --move-break-even sometimes", "--move-break-even"},
           {"--trace " + kRecent + " --window 512 --move-break-even -0.1", "--move-break-even"},
           {"--trace " + kRecent + " --window 512 --move-break-even 0x10", "a decimal number >= 0"},
           {"--trace " + kRecent + " --window 512 --move-break-even ' 5'", "a decimal number >= 0"},
           // A horizon of 0 batches used to turn the rule off (every move taken).
           {"--trace " + kRecent + " --window 512 --horizon 0",
            "--horizon 0: within 0 batches no move pays back; give a horizon > 0"}}) {
    SCOPED_TRACE(args);
    CliResult e = run_grace(base + args);
    EXPECT_EQ(e.code, 2) << e.err;
    EXPECT_EQ(e.err_lines(), 1) << e.err;
    EXPECT_EQ(e.err.rfind("grace: error: ", 0), 0u) << e.err;
    EXPECT_NE(e.err.find(what), std::string::npos) << e.err;
    EXPECT_FALSE(std::filesystem::exists(out.file("x.html")));
  }
  // --html over an input is refused once the inputs are read, before the windows' work (no
  // progress line), and the input is kept.
  const std::string placement = testing::slurp(old_path());
  CliResult in = run_grace("drift --placement '" + old_path() + "' --trace " + kRecent + " --window 512 --html '" +
                           old_path() + "'");
  EXPECT_EQ(in.code, 2) << in.err;
  EXPECT_EQ(in.err_lines(), 1) << in.err;
  EXPECT_NE(in.err.find("is also an input of this command"), std::string::npos) << in.err;
  EXPECT_EQ(testing::slurp(old_path()), placement);
}

// --batching balanced reaches the replay: with the primary router (no load-dependent choice) the
// bytes are those of trace-order batches, while the per-batch GPU load is not (pieces of 256
// tokens: a trace-order batch of 512 comes from two GPUs); the report names it.
// drift --threads: every window's costs and every strategy's totals are the same with one thread
// as with the default; the JSON says the count; a bad count is one error line.
TEST_F(ReplanCli, DriftThreadsDoNotChangeTheReplay) {
  auto run = [&](const std::string& opts) {
    CliResult r = run_grace("drift --placement '" + old_path() + "' --trace " + kOld + " --trace " + kRecent +
                            " --window 1024 --max-moves 20 --strategies static,grace:2,replan --json " + opts);
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  const nlohmann::json dflt = run(""), one = run("--threads 1");
  EXPECT_EQ(one["options"]["threads"], 1);
  EXPECT_EQ(dflt["options"]["threads"], 0);
  EXPECT_EQ(one["windows"], dflt["windows"]);
  EXPECT_EQ(one["strategies"], dflt["strategies"]);
  CliResult bad = run_grace("drift --placement '" + old_path() + "' --trace " + kRecent + " --window 512 --threads -4");
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_EQ(bad.err_lines(), 1) << bad.err;
  EXPECT_NE(bad.err.find("--threads"), std::string::npos) << bad.err;
}

TEST_F(ReplanCli, DriftReplaysWithBalancedBatches) {
  auto run = [&](const std::string& batching) {
    CliResult r = run_grace("drift --placement '" + old_path() + "' --trace " + kOld + " --trace " + kRecent +
                            " --window 1024 --seq-tokens 256 --router primary --batch-tokens 512 --batching " +
                            batching + " --json");
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  const nlohmann::json trace = run("trace"), balanced = run("balanced");
  EXPECT_EQ(trace["options"]["batching"], "trace");
  EXPECT_EQ(balanced["options"]["batching"], "balanced");
  ASSERT_EQ(trace["windows"].size(), balanced["windows"].size());
  ASSERT_GE(trace["windows"].size(), 2u);
  int load_differs = 0;
  for (size_t w = 0; w < trace["windows"].size(); ++w) {
    const auto& a = trace["windows"][w]["current"];
    const auto& b = balanced["windows"][w]["current"];
    EXPECT_NEAR(a["inter_bytes_per_token"].get<double>(), b["inter_bytes_per_token"].get<double>(), 1e-9) << w;
    load_differs += std::abs(a["load_max_mean"].get<double>() - b["load_max_mean"].get<double>()) > 1e-6;
  }
  EXPECT_GT(load_differs, 0);
  CliResult text = run_grace("drift --placement '" + old_path() + "' --trace " + kOld + " --trace " + kRecent +
                             " --window 1024 --batching balanced");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("(balanced batching)"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace grace
