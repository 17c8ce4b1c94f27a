// One JSON reader, one trace validation, one placement loader (issue 12, class 3 and the JSON
// findings): the same bad file gives the same one-line error in every subcommand that reads it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "reliability/cli_run.h"
#include "reliability/fixtures.h"

namespace grace::reliability {
namespace {

class OneValidation : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("grace-onevalid-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    write_fixtures(dir_);
    // A trace whose token 5, layer 1 names expert 3 twice.
    Trace dup = detail::good_trace();
    dup.ids[size_t((5 * kLayers + 1) * kTopK)] = 3;
    dup.ids[size_t((5 * kLayers + 1) * kTopK + 1)] = 3;
    write_trace(dup, at("dup"), false);
    // A trace of 0 tokens.
    write_raw_npy(at("empty0/topk_ids.npy"), "|u1", {0, kLayers, kTopK}, "");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string at(const std::string& rel) { return dir_ + "/" + rel; }
  static std::string dir_;

  // Every subcommand that reads a trace, with `trace` as its trace and a fresh -o under out/.
  static std::vector<std::vector<std::string>> trace_readers(const std::string& trace, const std::string& tag) {
    const std::string out = at("out-" + tag);
    fs::create_directories(out);
    return {
        {"plan", "--model", at("model.json"), "--trace", trace, "--topology", "2x2", "-o", out + "/p.json"},
        {"evaluate", "--model", at("model.json"), "--trace", trace, "--placement", at("placement.json")},
        {"simulate", "--model", at("model.json"), "--trace", trace, "--placement", at("placement.json")},
        {"trace", "stats", trace},
        {"trace", "convert", trace, "-o", out + "/t"},
        {"compare", "--model", at("model.json"), "--trace", trace, "--topology", "2x2", "-o", out + "/c"},
    };
  }
};
std::string OneValidation::dir_;

TEST_F(OneValidation, DuplicateExpertInATopKRowIsRejectedEverywhere) {
  for (const auto& args : trace_readers(at("dup"), "dup")) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    EXPECT_USER_ERROR(run_grace(args), "token 5, layer 1", "expert 3 appears twice");
  }
  EXPECT_FALSE(fs::exists(at("out-dup/p.json")));
  EXPECT_FALSE(fs::exists(at("out-dup/t")));
}

TEST_F(OneValidation, ZeroTokenTraceIsRejectedEverywhere) {
  for (const auto& args : trace_readers(at("empty0"), "empty")) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    EXPECT_USER_ERROR(run_grace(args), "no tokens");
  }
}

TEST_F(OneValidation, DuplicateJsonKeysAreRejectedNamingTheKey) {
  write_text(at("j/dupkey.json"),
             detail::placement_with("\"policy\": \"test\"", "\"policy\": \"a\", \"policy\": \"b\""));
  for (const char* cmd : {"validate", "export", "evaluate", "simulate"}) {
    std::vector<std::string> a = {cmd, "--placement", at("j/dupkey.json")};
    if (std::string(cmd) == "export") a.insert(a.end(), {"--format", "sglang"});
    if (std::string(cmd) == "evaluate" || std::string(cmd) == "simulate")
      a.insert(a.end(), {"--trace", at("good"), "--model", at("model.json")});
    if (std::string(cmd) == "validate") a.insert(a.end(), {"--model", at("model.json")});
    SCOPED_TRACE(cmd);
    EXPECT_USER_ERROR(run_grace(a), "dupkey.json", "duplicate key 'policy'");
  }
  write_text(at("j/dupmodel.json"), R"({"name": "m", "moe_layers": 2, "experts": 8, "experts": 9, "top_k": 2,
                                      "hidden": 64, "moe_intermediate": 32})");
  EXPECT_USER_ERROR(run_grace({"trace", "synth", "--model", at("j/dupmodel.json"), "--tokens", "10", "-o", at("j/t")}),
                    "dupmodel.json", "duplicate key 'experts'");
  write_text(at("j/duptopo.json"), R"({"nodes": 2, "gpus_per_node": 2, "nodes": 4})");
  EXPECT_USER_ERROR(
      run_grace({"plan", "--model", at("model.json"), "--trace", at("good"), "--topology", at("j/duptopo.json")}),
      "duptopo.json", "duplicate key 'nodes'");
}

TEST_F(OneValidation, UnknownKeysAreRejectedNamingTheKey) {
  write_text(at("j/topo_typo.json"), R"({"nodes": 2, "gpus_per_node": 2, "expert_memory_gb": 1})");
  EXPECT_USER_ERROR(
      run_grace({"plan", "--model", at("model.json"), "--trace", at("good"), "--topology", at("j/topo_typo.json")}),
      "topo_typo.json", "unknown key 'expert_memory_gb'");
  write_text(at("j/topo_link.json"), R"({"nodes": 2, "gpus_per_node": 2, "inter": {"bandwidth": 3}})");
  EXPECT_USER_ERROR(
      run_grace({"plan", "--model", at("model.json"), "--trace", at("good"), "--topology", at("j/topo_link.json")}),
      "topo_link.json", "inter", "unknown key 'bandwidth'");
  write_text(at("j/place_extra.json"),
             detail::placement_with("\"policy\": \"test\"", "\"policy\": \"test\", \"polcy\": 1"));
  EXPECT_USER_ERROR(run_grace({"export", "--placement", at("j/place_extra.json"), "--format", "vllm"}),
                    "place_extra.json", "unknown key 'polcy'");
  write_text(at("j/model_extra.json"), R"({"moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64,
                                        "moe_intermediate": 32, "topk": 3})");
  EXPECT_USER_ERROR(
      run_grace({"trace", "synth", "--model", at("j/model_extra.json"), "--tokens", "10", "-o", at("j/t")}),
      "model_extra.json", "unknown key 'topk'");
}

TEST_F(OneValidation, TypeErrorsAreOneLineWithoutLibraryIds) {
  write_text(at("j/topo_type.json"), R"({"nodes": 2, "gpus_per_node": 2, "intra": {"latency_us": "fast"}})");
  CliResult r =
      run_grace({"plan", "--model", at("model.json"), "--trace", at("good"), "--topology", at("j/topo_type.json")});
  EXPECT_USER_ERROR(r, "topo_type.json", "latency_us", "must be a number");
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos);
  write_text(at("j/topo_compute.json"), R"({"nodes": 2, "gpus_per_node": 2, "compute": [[1, "x"]]})");
  r = run_grace({"plan", "--model", at("model.json"), "--trace", at("good"), "--topology", at("j/topo_compute.json")});
  EXPECT_USER_ERROR(r, "topo_compute.json", "compute point 0");
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos);
  write_text(at("j/model_name.json"), R"({"name": 26, "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64,
                                       "moe_intermediate": 32})");
  r = run_grace({"trace", "synth", "--model", at("j/model_name.json"), "--tokens", "10", "-o", at("j/t")});
  EXPECT_USER_ERROR(r, "model_name.json", "'name' must be a string");
}

TEST_F(OneValidation, EveryJsonInputHasASizeCap) {
  if (!fs::exists("/dev/zero")) GTEST_SKIP() << "no /dev/zero";
  EXPECT_USER_ERROR(run_grace({"validate", "--placement", "/dev/zero"}, "", 60), "/dev/zero", "limit");
  EXPECT_USER_ERROR(run_grace({"export", "--placement", "/dev/zero", "--format", "sglang"}, "", 60), "/dev/zero",
                    "limit");
  // A regular file over the cap (sparse: no disk used).
  fs::create_directories(at("j"));
  { std::ofstream(at("j/zero.json")); }
  fs::resize_file(at("j/zero.json"), (size_t(64) << 20) + 1);
  EXPECT_USER_ERROR(
      run_grace({"plan", "--model", at("model.json"), "--trace", at("good"), "--topology", at("j/zero.json")}, "", 60),
      "zero.json", "limit");
  EXPECT_USER_ERROR(
      run_grace({"trace", "synth", "--model", at("j/zero.json"), "--tokens", "10", "-o", at("j/t")}, "", 60),
      "zero.json", "limit");
}

// `grace run` loads its placement through the one loader (load_checked_placement), like
// evaluate: the same bad placement gives the same line from both. grace is started without
// mpirun (an MPI singleton, world size 1); the placement is checked before the world size.
TEST_F(OneValidation, RunLoadsItsPlacementLikeEvaluate) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "sanitizer build: OpenMPI's own allocations trip LeakSanitizer (why scripts/asan-tests.sh "
                  "leaves out the mpi label); the Release run covers this test";
#endif
  const std::string mpi_env = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader";
  write_text(at("j/run-dupkey.json"),
             detail::placement_with("\"policy\": \"test\"", "\"policy\": \"a\", \"policy\": \"b\""));
  write_text(at("j/run-unknown.json"),
             detail::placement_with("\"policy\": \"test\"", "\"policy\": \"test\", \"x\": 1"));
  struct Case {
    std::string placement, model, topology;
  };
  std::vector<Case> cases;
  for (const char* bad : {"bad/weightsum.json", "bad/gpu_oor.json", "bad/duplicate.json", "bad/missing_expert.json",
                          "bad/other_experts.json", "bad/huge_experts.json", "j/run-dupkey.json", "j/run-unknown.json"})
    cases.push_back({bad, at("model.json"), "2x2"});
  // A good placement for another topology, and for another model.
  cases.push_back({"placement.json", at("model.json"), "1x1"});
  cases.push_back({"placement.json", "deepseek-v2-lite", "2x2"});
  for (const Case& c : cases) {
    const std::string& bad = c.placement;
    SCOPED_TRACE(bad + " " + c.model + " " + c.topology);
    const std::vector<std::string> common = {"--model", c.model,    "--topology",  c.topology,
                                             "--trace", at("good"), "--placement", at(bad)};
    std::vector<std::string> run = {"run", "--hidden", "32", "--intermediate", "16"}, eval = {"evaluate"};
    run.insert(run.end(), common.begin(), common.end());
    eval.insert(eval.end(), common.begin(), common.end());
    const CliResult r = run_grace(run, "", 60, mpi_env);
    if (r.err.find("without MPI") != std::string::npos || r.err.find("needs the engine") != std::string::npos)
      GTEST_SKIP() << "this grace has no MPI engine: " << r.err;
    const CliResult e = run_grace(eval);
    EXPECT_USER_ERROR(e, at(bad));
    EXPECT_USER_ERROR(r, at(bad));
    EXPECT_EQ(r.err, e.err);
  }
}

}  // namespace
}  // namespace grace::reliability
