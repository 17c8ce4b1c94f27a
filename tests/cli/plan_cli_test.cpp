// `grace plan`, `grace export` and `grace validate` end to end: run the binary, then check
// what it wrote with the library's own reader and validator.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
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

const char* kPolicies[] = {"contiguous",  "eplb", "uniform-affinity", "uniform-affinity+replicas",
                           "grace-paper", "grace"};

TEST(PlanCli, SyntheticDefaultWritesAValidPlacement) {
  TempDir dir("plan");
  const std::string out = dir.file("p.json");
  CliResult r = run_grace("plan --topology 2x4 -o '" + out + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("built-in synthetic trace of deepseek-v2-lite"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("affinity kept"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("predicted load"), std::string::npos) << r.out;
  Placement p = load_placement(out);
  EXPECT_EQ(p.policy, "grace");
  EXPECT_EQ(p.model, "deepseek-v2-lite");
  EXPECT_NO_THROW(validate_placement(p, parse_topology("2x4"), load_model("deepseek-v2-lite")));
  EXPECT_EQ(dir.count(), 1);  // no temporary file left
  // The printed hash is the file's.
  EXPECT_NE(r.out.find(fmt::format("{:016x}", placement_hash(p))), std::string::npos) << r.out;

  // Same seed, same plan.
  CliResult again = run_grace("plan --topology 2x4 -o '" + dir.file("q.json") + "'");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(placement_hash(load_placement(dir.file("q.json"))), placement_hash(p));

  // export + validate on the written file.
  CliResult ex = run_grace("export --placement '" + out + "' --format vllm -o '" + dir.file("v.json") + "'");
  ASSERT_EQ(ex.code, 0) << ex.err;
  Placement back = import_placement(testing::slurp(dir.file("v.json")), ExportFormat::kVllm, 2, 4);
  for (int l = 0; l < p.num_layers; ++l)
    for (int e = 0; e < p.num_experts; ++e)
      ASSERT_EQ(back.layers[l].experts[e].num_instances(), p.layers[l].experts[e].num_instances());
  CliResult sg = run_grace("export --placement '" + out + "' --format sglang");
  ASSERT_EQ(sg.code, 0) << sg.err;
  EXPECT_EQ(sg.out.rfind("{\"physical_to_logical_map\": [", 0), 0u) << sg.out.substr(0, 80);
  CliResult val = run_grace("validate --placement '" + out + "'");
  EXPECT_EQ(val.code, 0) << val.err;
  EXPECT_NE(val.out.find("is valid"), std::string::npos);
}

// --batching and --batch-tokens reach grace's judge: it weighs its candidate plans on batches
// cut that way, so on this trace each choice gives another (valid, reproducible) plan.
TEST(PlanCli, BatchingAndBatchTokensShapeGracesPlan) {
  TempDir dir("plan-batching");
  auto plan = [&](const std::string& opts, const std::string& name) {
    CliResult r = run_grace("plan --trace synthetic:deepseek-v2-lite:8192:1 " + opts + " -o '" + dir.file(name) + "'");
    EXPECT_EQ(r.code, 0) << r.err;
    Placement p = load_placement(dir.file(name));
    EXPECT_NO_THROW(validate_placement(p, parse_topology("2x4"), load_model("deepseek-v2-lite")));
    return placement_hash(p);
  };
  const uint64_t trace = plan("", "trace.json");
  EXPECT_EQ(plan("--batching trace --batch-tokens 4096", "trace2.json"), trace);  // the defaults
  EXPECT_NE(plan("--batching balanced", "balanced.json"), trace);
  EXPECT_NE(plan("--batch-tokens 1024", "small.json"), trace);
}

// --target reaches grace's judge: planned for SGLang's static dispatch the plan differs from the
// one made for cover (the default, the same as --target cover), is valid, says its target in the
// report and in --json, and an unknown target is one error line (exit 2, no file).
TEST(PlanCli, TargetRouterShapesGracesPlan) {
  TempDir dir("plan-target");
  auto plan = [&](const std::string& opts, const std::string& name) {
    CliResult r = run_grace("plan --trace synthetic:gpt-oss-20b:8192:5 --model gpt-oss-20b " + opts + " -o '" +
                            dir.file(name) + "'");
    EXPECT_EQ(r.code, 0) << r.err;
    Placement p = load_placement(dir.file(name));
    EXPECT_NO_THROW(validate_placement(p, parse_topology("2x4"), load_model("gpt-oss-20b")));
    return std::make_pair(placement_hash(p), r.out);
  };
  const auto [dflt, dflt_out] = plan("", "default.json");
  EXPECT_NE(dflt_out.find("target router cover"), std::string::npos) << dflt_out;
  EXPECT_EQ(plan("--target cover", "cover.json").first, dflt);
  const auto [sg, sg_out] = plan("--target sglang-static", "sglang.json");
  EXPECT_NE(sg, dflt);
  EXPECT_NE(sg_out.find("target router sglang-static"), std::string::npos) << sg_out;
  CliResult js =
      run_grace("plan --trace synthetic:gpt-oss-20b:8192:5 --model gpt-oss-20b --target sglang-static --json");
  ASSERT_EQ(js.code, 0) << js.err;
  EXPECT_NE(js.out.find("\"target\":\"sglang-static\""), std::string::npos) << js.out.substr(0, 400);
  CliResult bad = run_grace("plan --model gpt-oss-20b --target no-such -o '" + dir.file("bad.json") + "'");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err,
            "grace: error: --target: unknown router 'no-such' (valid: primary, wrr, tar, round-robin, "
            "local-first, load-aware, cover, sglang-static, sglang-dynamic)\n");
  EXPECT_FALSE(std::filesystem::exists(dir.file("bad.json")));
  CliResult help = run_grace("plan --help");
  for (const auto& name : {"sglang-static", "cover"}) EXPECT_NE(help.out.find(name), std::string::npos);
}

// --threads reaches the profile and the planner, and the plan does not depend on it: 1 thread,
// 3 threads and the default (one per core) write the same placement; the report and --json say
// the count.
TEST(PlanCli, ThreadsDoNotChangeThePlan) {
  TempDir dir("plan-threads");
  auto plan = [&](const std::string& opts, const std::string& name) {
    CliResult r = run_grace("plan --trace synthetic:gpt-oss-20b:8192:5 --model gpt-oss-20b --topology 4x2 " + opts +
                            " -o '" + dir.file(name) + "'");
    EXPECT_EQ(r.code, 0) << r.err;
    return std::make_pair(placement_hash(load_placement(dir.file(name))), r.out);
  };
  const auto [dflt, dflt_out] = plan("", "default.json");
  EXPECT_NE(dflt_out.find(", threads one per core"), std::string::npos) << dflt_out;
  const auto [one, one_out] = plan("--threads 1", "one.json");
  EXPECT_EQ(one, dflt);
  EXPECT_NE(one_out.find(", threads 1\n"), std::string::npos) << one_out;
  EXPECT_EQ(plan("--threads 3", "three.json").first, dflt);
  CliResult js = run_grace("plan --trace synthetic:gpt-oss-20b:8192:5 --model gpt-oss-20b --threads 2 --json");
  ASSERT_EQ(js.code, 0) << js.err;
  EXPECT_NE(js.out.find("\"threads\":2"), std::string::npos) << js.out.substr(0, 400);
}

TEST(PlanCli, PolicyAllPrintsOneTableAndWritesOneFilePerPolicy) {
  TempDir dir("all");
  CliResult r = run_grace("plan --policy all --topology 2x4 -o '" + dir.file("p.json") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("aff in GPU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inst/GPU"), std::string::npos) << r.out;
  // 64 experts on 8 GPUs, one copy each: 8 instances per GPU, no extra memory.
  const size_t line = r.out.find("\ncontiguous ");
  ASSERT_NE(line, std::string::npos) << r.out;
  const std::string contiguous = r.out.substr(line + 1, r.out.find('\n', line + 1) - line - 1);
  EXPECT_NE(contiguous.find(" 8.00 "), std::string::npos) << contiguous;
  EXPECT_NE(contiguous.find(" 0.0% "), std::string::npos) << contiguous;
  for (const char* policy : kPolicies) {
    EXPECT_NE(r.out.find(std::string("\n") + policy + " "), std::string::npos) << policy << "\n" << r.out;
    const std::string f = dir.file(std::string("p.") + policy + ".json");
    ASSERT_TRUE(std::filesystem::exists(f)) << f;
    Placement p = load_placement(f);
    EXPECT_EQ(p.policy, policy);
    EXPECT_NO_THROW(validate_placement(p, parse_topology("2x4"), load_model("deepseek-v2-lite")));
  }
  EXPECT_EQ(dir.count(), int(std::size(kPolicies)));
}

TEST(PlanCli, SyntheticTraceSpecPlansLikeItsFile) {
  // A synthetic:MODEL:TOKENS:SEED spec is a trace like the folder `trace synth` writes for it.
  TempDir dir("synthspec");
  CliResult synth = run_grace("trace synth --model gpt-oss-20b --tokens 3000 --seed 4 -o '" + dir.file("t") + "'");
  ASSERT_EQ(synth.code, 0) << synth.err;
  CliResult a = run_grace("plan --model gpt-oss-20b --topology 2x2 --trace synthetic:gpt-oss-20b:3000:4 -o '" +
                          dir.file("a.json") + "'");
  ASSERT_EQ(a.code, 0) << a.err;
  CliResult b = run_grace("plan --model gpt-oss-20b --topology 2x2 --trace '" + dir.file("t") + "' -o '" +
                          dir.file("b.json") + "'");
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(placement_hash(load_placement(dir.file("a.json"))), placement_hash(load_placement(dir.file("b.json"))));
  CliResult bad =
      run_grace("plan --model gpt-oss-20b --topology 2x2 --trace synthetic:nomodel -o '" + dir.file("c.json") + "'");
  EXPECT_EQ(bad.code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.file("c.json")));
}

// A long trace (2^18 tokens or more) reports its profiling on stderr, a line per quarter when
// stderr is not a terminal, the last at every token; a short one says nothing there.
TEST(PlanCli, LongTracesReportProfilingByQuarters) {
  TempDir dir("progress");
  std::ofstream(dir.file("tiny.json"))
      << R"({"name":"tiny","moe_layers":2,"experts":8,"top_k":2,"hidden":64,"moe_intermediate":32})";
  const std::string model = dir.file("tiny.json");
  CliResult r = run_grace("plan --policy contiguous --model '" + model + "' --trace 'synthetic:" + model +
                          ":300000:1' -o '" + dir.file("p.json") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.err);
  std::vector<std::string> progress;
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("profiling: ", 0) == 0) progress.push_back(line);
  ASSERT_EQ(progress.size(), 4u) << r.err;
  EXPECT_EQ(progress.back().rfind("profiling: 300000 / 300000 tokens, ", 0), 0u) << progress.back();
  CliResult s = run_grace("plan --policy contiguous --model '" + model + "' --trace 'synthetic:" + model +
                          ":20000:1' -o '" + dir.file("q.json") + "'");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(s.err.find("profiling"), std::string::npos) << s.err;
}

TEST(PlanCli, JsonOutputIsOneObject) {
  CliResult r = run_grace("plan --policy contiguous --json --model gpt-oss-20b --topology 1x4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\"policy\":\"contiguous\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"model\":\"gpt-oss-20b\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"instances_per_gpu\":8.0"), std::string::npos) << r.out;  // 32 experts / 4 GPUs
  EXPECT_NE(r.out.find("\"extra_memory_pct\":0.0"), std::string::npos) << r.out;
}

// --dump-loads writes the profile's loads: every token counted top_k times per layer.
TEST(PlanCli, DumpLoadsWritesTheProfile) {
  TempDir dir("loads");
  const std::string trace = dir.file("tr");
  ASSERT_EQ(run_grace("trace synth --model gpt-oss-20b --tokens 1000 -o '" + trace + "'").code, 0);
  CliResult r = run_grace("plan --policy contiguous --model gpt-oss-20b --topology 1x4 --trace '" + trace +
                          "' --dump-loads '" + dir.file("loads.json") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("written           " + dir.file("loads.json") + " (per-layer expert loads)"), std::string::npos)
      << r.out;
  const std::string j = testing::slurp(dir.file("loads.json"));
  EXPECT_NE(j.find("\"num_layers\":24"), std::string::npos) << j.substr(0, 200);
  EXPECT_NE(j.find("\"num_experts\":32"), std::string::npos);
  EXPECT_NE(j.find("\"tokens\":1000"), std::string::npos);
  // The first layer's loads sum to tokens x top_k = 4000.
  const size_t a = j.find("\"load\":[[") + 9, b = j.find(']', a);
  int64_t sum = 0;
  for (size_t p = a; p < b;) {
    size_t q = j.find(',', p);
    if (q == std::string::npos || q > b) q = b;
    sum += std::stoll(j.substr(p, q - p));
    p = q + 1;
  }
  EXPECT_EQ(sum, 4000);
  CliResult bad = run_grace("plan --policy contiguous --dump-loads /nonexistent/dir/l.json");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--dump-loads '/nonexistent/dir/l.json': folder"), std::string::npos) << bad.err;
}

// Bad input: exit 2, exactly one line on stderr that names the problem, and no output file.
void expect_bad(const std::string& args, const std::string& needle) {
  TempDir dir("bad");
  CliResult r = run_grace(args + " -o '" + dir.file("p.json") + "'");
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  EXPECT_EQ(r.err_lines(), 1) << args << "\n" << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\nstderr: " << r.err;
  EXPECT_EQ(dir.count(), 0) << args;
}

TEST(PlanCli, BadInputsFailWithOneLineAndNoFile) {
  expect_bad("plan --trace /nonexistent/topk_ids.npy.gz", "/nonexistent/topk_ids.npy.gz");
  expect_bad("plan --policy nope", "nope");
  expect_bad("plan --model no-such-model", "no-such-model");
  expect_bad("plan --topology 2y4", "2y4");
  expect_bad("plan --topology /nonexistent/topo.json", "/nonexistent/topo.json");
  expect_bad("plan --redundant -5", "--redundant");
  expect_bad("plan --threads -1", "--threads");
  expect_bad("plan --threads 100000", "--threads 100000 must be in [0, 256]");
}

TEST(PlanCli, TraceModelMismatchIsRejected) {
  TempDir dir("mismatch");
  // A gpt-oss-shaped synthetic trace (24 layers x 32 experts, top-4) planned as deepseek-v2-lite.
  CliResult w = run_grace("trace synth --model gpt-oss-20b --tokens 512 -o '" + dir.file("t") + "'");
  ASSERT_EQ(w.code, 0) << w.err;
  CliResult r =
      run_grace("plan --trace '" + dir.file("t") + "' --model deepseek-v2-lite -o '" + dir.file("p.json") + "'");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_NE(r.err.find("24 MoE layers, top-4 but model 'deepseek-v2-lite' has 26 MoE layers, top-6"), std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("p.json")));
  // The matching model plans it.
  CliResult ok = run_grace("plan --trace '" + dir.file("t") + "' --model gpt-oss-20b --policy eplb -o '" +
                           dir.file("p.json") + "'");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("p.json")));
}

TEST(ExportCli, BadInputs) {
  TempDir dir("export");
  CliResult r = run_grace("export --placement /nonexistent.json --format sglang");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/nonexistent.json"), std::string::npos) << r.err;
  ASSERT_EQ(run_grace("plan --policy contiguous -o '" + dir.file("p.json") + "'").code, 0);
  r = run_grace("export --placement '" + dir.file("p.json") + "' --format trt");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--format: unknown export format 'trt'"), std::string::npos) << r.err;
  r = run_grace("validate --placement '" + dir.file("p.json") + "' --topology 4x4");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("2x4"), std::string::npos) << r.err;
}

// Every policy on both real traces, on 2x4 and 4x8: the written placements validate.
TEST(PlanCli, RealTracesEveryPolicy) {
  const std::string data = GRACE_SHARED_DATA;
  if (!std::filesystem::is_directory(data + "/traces"))
    GTEST_SKIP() << "shared data folder " << data << " is absent: real-trace planning not tested";
  struct Case {
    std::string trace, model;
  } cases[] = {{data + "/traces/deepseek-v2-lite-esft/law_topk_ids.npy.gz", "deepseek-v2-lite"},
               {data + "/traces/gpt-oss-20b-mmlu/topk_ids.npy.gz", "gpt-oss-20b"}};
  for (const auto& c : cases)
    for (const char* topo : {"2x4", "4x8"}) {
      TempDir dir("real");
      CliResult r = run_grace("plan --policy all --trace '" + c.trace + "' --model " + c.model + " --topology " + topo +
                              " -o '" + dir.file("p.json") + "'");
      ASSERT_EQ(r.code, 0) << c.trace << " " << topo << "\n" << r.err;
      for (const char* policy : kPolicies) {
        Placement p = load_placement(dir.file(std::string("p.") + policy + ".json"));
        EXPECT_NO_THROW(validate_placement(p, parse_topology(topo), load_model(c.model)))
            << c.model << " " << topo << " " << policy;
      }
    }
}

// A name option's error names the option, whatever the command: the library's parser checks the
// value while the command line is read (apps/grace/cli_checks.cpp), before any work.
TEST(CliNames, UnknownNamesNameTheirOption) {
  for (const auto& [args, want] : std::initializer_list<std::pair<std::string, std::string>>{
           {"plan --policy nope", "--policy: unknown planner 'nope'"},
           {"evaluate --trace synthetic:deepseek-v2-lite:64 --placement x.json --comm nope",
            "--comm: unknown communication scheme 'nope'"},
           {"simulate --trace synthetic:deepseek-v2-lite:64 --placement x.json --batching nope",
            "--batching: unknown batching 'nope'"},
           {"compare --split nope -o x", "--split: unknown split 'nope'"},
           {"export --placement x.json --format nope -o x", "--format: unknown export format 'nope'"}}) {
    SCOPED_TRACE(args);
    CliResult r = run_grace(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err_lines(), 1) << r.err;
    EXPECT_EQ(r.err.rfind("grace: error: " + want, 0), 0u) << r.err;
  }
  EXPECT_EQ(run_grace("plan --policy all --model deepseek-v2-lite --trace synthetic:deepseek-v2-lite:512").code, 0);
}

}  // namespace
}  // namespace grace
