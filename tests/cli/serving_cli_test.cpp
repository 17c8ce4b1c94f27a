// grace export for SGLang / vLLM, validate --for sglang and evaluate with SGLang's dispatch,
// end to end through the CLI.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"

namespace grace {
namespace {

using testing::CliResult;
using testing::run_grace;
using testing::TempDir;

struct Case {
  const char* model;
  int rows, columns, redundant;
};

// DeepSeek-V2-Lite (1 dense + 26 MoE layers, 64 experts) and GPT-OSS-20B (24 layers, 32
// experts) at 2x4 with the default one spare slot per GPU.
TEST(ServingCli, SglangExportPrintsFlagsConsistentWithTheFile) {
  for (const Case c : {Case{"deepseek-v2-lite", 27, 72, 8}, Case{"gpt-oss-20b", 24, 40, 8}}) {
    SCOPED_TRACE(c.model);
    TempDir dir("sg");
    const std::string p = dir.file("p.json"), f = dir.file("sg.json");
    ASSERT_EQ(run_grace(std::string("plan --model ") + c.model + " --topology 2x4 -o '" + p + "'").code, 0);
    CliResult ex = run_grace("export --placement '" + p + "' --format sglang -o '" + f + "'");
    ASSERT_EQ(ex.code, 0) << ex.err;
    const std::string flags = "--init-expert-location " + f + " --ep-num-redundant-experts " +
                              std::to_string(c.redundant) + " --ep-size 8 --ep-dispatch-algorithm static";
    EXPECT_NE(ex.out.find("flags: " + flags), std::string::npos) << ex.out;
    const auto j = nlohmann::json::parse(testing::slurp(f));
    ASSERT_EQ(int(j["physical_to_logical_map"].size()), c.rows);
    EXPECT_EQ(int(j["physical_to_logical_map"][c.rows - 1].size()), c.columns);
    CliResult js = run_grace("export --placement '" + p + "' --format sglang --json -o '" + f + "'");
    ASSERT_EQ(js.code, 0) << js.err;
    const auto o = nlohmann::json::parse(js.out);
    EXPECT_EQ(o["rows"], c.rows);
    EXPECT_EQ(o["num_physical"], c.columns);
    EXPECT_EQ(o["redundant"], c.redundant);
    EXPECT_EQ(o["flags"], flags);
    CliResult v = run_grace("validate --for sglang '" + f + "' --model " + c.model + " --ep-size 8");
    EXPECT_EQ(v.code, 0) << v.err;
    EXPECT_NE(v.out.find("is valid for SGLang"), std::string::npos) << v.out;
    EXPECT_NE(v.out.find(flags), std::string::npos) << v.out;
    // The same check for scripts, the ep size from a topology instead of --ep-size.
    CliResult vj = run_grace("validate --for sglang '" + f + "' --model " + c.model + " --topology 2x4 --json");
    ASSERT_EQ(vj.code, 0) << vj.err;
    const auto vo = nlohmann::json::parse(vj.out);
    EXPECT_EQ(vo["valid"], true);
    EXPECT_EQ(vo["rows"], c.rows);
    EXPECT_EQ(vo["num_physical"], c.columns);
    EXPECT_EQ(vo["redundant"], c.redundant);
    EXPECT_EQ(vo["ep_size"], 8);
    EXPECT_EQ(vo["flags"], flags);
    CliResult vt = run_grace("validate --for sglang '" + f + "' --model " + c.model + " --topology 4x4");
    EXPECT_EQ(vt.code, 2);
    EXPECT_EQ(vt.err_lines(), 1) << vt.err;
    CliResult none = run_grace("validate --for sglang '" + f + "' --model " + c.model);
    EXPECT_EQ(none.code, 2);
    EXPECT_NE(none.err.find("give --ep-size (or --topology NxG)"), std::string::npos) << none.err;
    // SGLang's dispatch map: a row per rank, said on stdout.
    CliResult d = run_grace("export --placement '" + p + "' --format sglang-dispatch -o '" + dir.file("d.json") + "'");
    ASSERT_EQ(d.code, 0) << d.err;
    EXPECT_NE(d.out.find("wrote " + dir.file("d.json") + ": 8 ranks x " + std::to_string(c.rows) + " rows x "),
              std::string::npos)
        << d.out;
    // The server's default --ep-num-redundant-experts 0 does not match the file.
    CliResult v0 = run_grace("validate --for sglang '" + f + "' --model " + c.model + " --ep-size 8 --redundant 0");
    EXPECT_EQ(v0.code, 2);
    EXPECT_NE(v0.err.find("--ep-num-redundant-experts"), std::string::npos) << v0.err;
    EXPECT_EQ(v0.err_lines(), 1);
    // vLLM: MoE layers only.
    ASSERT_EQ(run_grace("export --placement '" + p + "' --format vllm -o '" + dir.file("v.json") + "'").code, 0);
    EXPECT_EQ(int(nlohmann::json::parse(testing::slurp(dir.file("v.json"))).size()), c.rows - (c.rows == 27));
  }
}

TEST(ServingCli, BadSglangRequestsFailWithOneLineAndNoFile) {
  TempDir dir("sgbad");
  const std::string p = dir.file("p.json");
  ASSERT_EQ(run_grace("plan --topology 2x4 -o '" + p + "'").code, 0);
  CliResult r = run_grace("export --placement '" + p + "' --format sglang -o '" + dir.file("x.txt") + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("ends in .json"), std::string::npos) << r.err;
  EXPECT_EQ(dir.count(), 1);
  r = run_grace("export --placement '" + p + "' --format sglang --model gpt-oss-20b -o '" + dir.file("x.json") + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_EQ(dir.count(), 1);
  r = run_grace("validate --for sglang '" + p + "' --model deepseek-v2-lite --ep-size 8");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unexpected key"), std::string::npos) << r.err;
  r = run_grace("validate --for vllm '" + p + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown target 'vllm'"), std::string::npos) << r.err;
}

double cross_node(const std::string& placement, const char* router) {
  CliResult r = run_grace("evaluate --trace synthetic:deepseek-v2-lite:4096:3 --placement '" + placement +
                          "' --router " + router + " --comm flat --json");
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out)["total"]["inter_copies"].get<double>();
}

// The same placement under grace's tar vs SGLang's own dispatch: SGLang's static rule is not
// node-aware, so it sends more copies across nodes; dynamic ignores the own-GPU copy too.
TEST(ServingCli, EvaluateShowsWhatSglangDispatchDoesWithThePlacement) {
  TempDir dir("sgeval");
  const std::string p = dir.file("p.json");
  ASSERT_EQ(run_grace("plan --topology 2x4 -o '" + p + "'").code, 0);
  const double tar = cross_node(p, "tar"), st = cross_node(p, "sglang-static"), dyn = cross_node(p, "sglang-dynamic");
  EXPECT_GT(st, tar);
  EXPECT_GT(dyn, st);
}

// A placement with spare slots (contiguous on 2x4: 8 experts in 9 slots per GPU) is served with
// those slots filled; SGLang's routers are evaluated on that layout (this stopped with exit 1,
// an internal error, before). `simulate` and `drift` go through the same evaluator.
TEST(ServingCli, SglangRoutersEvaluatePlacementsWithSpareSlots) {
  TempDir dir("sgspare");
  const std::string p = dir.file("p.json");
  ASSERT_EQ(run_grace("plan --policy contiguous --topology 2x4 -o '" + p + "'").code, 0);
  for (const char* router : {"sglang-static", "sglang-dynamic"}) {
    EXPECT_GT(cross_node(p, router), 0) << router;
    CliResult s = run_grace("simulate --trace synthetic:deepseek-v2-lite:4096:3 --placement '" + p + "' --router " +
                            router + " --json");
    EXPECT_EQ(s.code, 0) << s.err;
  }
}

// A placement's policy string is untrusted text: validate prints it escaped, on one line (it
// reached the terminal raw, escape sequences included).
TEST(ServingCli, ValidatePrintsThePolicyEscaped) {
  TempDir dir("sgvalid");
  const std::string p = dir.file("p.json"), q = dir.file("q.json");
  ASSERT_EQ(run_grace("plan --topology 2x4 -o '" + p + "'").code, 0);
  nlohmann::json j = nlohmann::json::parse(testing::slurp(p));
  j["policy"] = "x\n\x1b[31m";
  std::ofstream(q) << j.dump();
  CliResult r = run_grace("validate --placement '" + q + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find("policy x\\n\\x1b[31m"), std::string::npos) << r.out;
}

// A path is any bytes on Linux: one that is not UTF-8 goes into JSON output with U+FFFD for the
// bad bytes (nlohmann threw "invalid UTF-8 byte", and validate --json and compare ended with exit 1).
TEST(ServingCli, JsonOutputTakesPathsThatAreNotUtf8) {
  TempDir dir("sgutf8");
  const std::string p = dir.file("p\xff.json"), out = dir.file("cmp\xfe");
  ASSERT_EQ(run_grace("plan --topology 2x4 -o '" + p + "'").code, 0);
  CliResult v = run_grace("validate --placement '" + p + "' --json");
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(nlohmann::json::parse(v.out)["placement"].get<std::string>().find("\xef\xbf\xbd"), dir.file("p").size());
  const std::string tr = dir.file("tr\xff");
  ASSERT_EQ(run_grace("trace synth --model deepseek-v2-lite --tokens 2048 -o '" + tr + "'").code, 0);
  CliResult c = run_grace("compare --trace '" + tr + "' --topology 2x2 -o '" + out + "'");
  ASSERT_EQ(c.code, 0) << c.err;
  nlohmann::json results;
  EXPECT_NO_THROW(results = nlohmann::json::parse(testing::slurp(out + "/results.json")));
  EXPECT_TRUE(results.is_object());
}

}  // namespace
}  // namespace grace
