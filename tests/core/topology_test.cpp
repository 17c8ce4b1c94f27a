#include "grace/topology.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "grace/error.h"
#include "grace/model.h"

namespace grace {
namespace {

TEST(Topology, ParsesShapeWithPaperConstants) {
  Topology t = parse_topology("2x4");
  EXPECT_EQ(t.nodes, 2);
  EXPECT_EQ(t.gpus_per_node, 4);
  EXPECT_EQ(t.num_gpus(), 8);
  EXPECT_EQ(t.node_of(5), 1);
  EXPECT_EQ(t.local_rank(5), 1);
  EXPECT_EQ(t.gpu_at(1, 3), 7);
  EXPECT_DOUBLE_EQ(t.node_nic_GBps, 3.125);  // 25 Gbit/s Ethernet shared per node
}

TEST(Topology, ParsesPresetSuffix) {
  Topology t = parse_topology("4x8@h200");
  EXPECT_EQ(t.num_gpus(), 32);
  EXPECT_DOUBLE_EQ(t.inter.bandwidth_GBps, 50.0);  // 400 Gbit/s IB per GPU
  EXPECT_EQ(t.node_nic_GBps, 0);
}

TEST(Topology, RejectsBadSpecs) {
  for (const char* bad : {"", "2x", "x4", "0x4", "2x0", "2y4", "2x4@nope", "missing.json", "-1x2"})
    EXPECT_THROW(parse_topology(bad), InputError) << bad;
}

TEST(Topology, ComputeCurveInterpolatesMonotonically) {
  Topology t = parse_topology("h200");
  double prev = 0;
  for (double tokens : {1.0, 3.0, 64.0, 100.0, 1024.0, 5000.0, 1e6}) {
    double f = t.tflops_at(tokens);
    EXPECT_GE(f, prev) << tokens;
    prev = f;
  }
  EXPECT_NEAR(t.tflops_at(1024), 374.28, 1e-9);
}

TEST(Topology, DerivesSlots) {
  Topology t = parse_topology("8x8");
  EXPECT_EQ(slots_per_gpu(t, 256, 64), 5);
  EXPECT_EQ(slots_per_gpu(t, 64, 0), 1);
  EXPECT_EQ(slots_per_gpu(t, 64, -1), 2);  // default: one redundant slot per GPU
  t.slots_per_gpu = 7;
  EXPECT_EQ(slots_per_gpu(t, 256, 64), 7);
}

// Writes `json` to a temp .json file of this test and process (ctest runs the tests of this file
// in parallel) and parses it as a topology.
Topology parse_json_topology(const std::string& json) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto path = std::filesystem::temp_directory_path() /
              ("grace_topology_test_" + std::string(info ? info->name() : "x") + "_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << json;
  struct Remove {
    std::filesystem::path p;
    ~Remove() { std::filesystem::remove(p); }
  } remove{path};
  return parse_topology(path.string());
}

TEST(Topology, JsonCountsMustBeWholeNumbersInRange) {
  Topology t = parse_json_topology(R"({"preset": "2x4@h200", "nodes": 3, "slots_per_gpu": 12})");
  EXPECT_EQ(t.nodes, 3);
  EXPECT_EQ(t.gpus_per_node, 4);
  EXPECT_EQ(t.slots_per_gpu, 12);
  EXPECT_DOUBLE_EQ(t.inter.bandwidth_GBps, 50.0);
  EXPECT_THROW(parse_json_topology(R"({"nodes": 2.5})"), InputError);                 // not truncated to 2
  EXPECT_THROW(parse_json_topology(R"({"gpus_per_node": 4294967298})"), InputError);  // not wrapped to 2
  EXPECT_THROW(parse_json_topology(R"({"nodes": -1})"), InputError);
  EXPECT_THROW(parse_json_topology(R"({"nodes": "2"})"), InputError);
  EXPECT_THROW(parse_json_topology(R"({"gpus_per_node": 0})"), InputError);
}

TEST(Topology, JsonLinkTiersReadPeerLatency) {
  Topology t = parse_json_topology(
      R"({"preset": "2x2@h200", "inter": {"bandwidth_GBps": 1.5, "latency_us": 4000, "peer_latency_us": 900}})");
  EXPECT_DOUBLE_EQ(t.inter.bandwidth_GBps, 1.5);
  EXPECT_DOUBLE_EQ(t.inter.latency_us, 4000);
  EXPECT_DOUBLE_EQ(t.inter.peer_latency_us, 900);
  EXPECT_DOUBLE_EQ(t.intra.peer_latency_us, 0);  // absent: the preset's (0)
  EXPECT_THROW(parse_json_topology(R"({"preset": "2x2", "inter": {"peer_latency_us": -1}})"), InputError);
  EXPECT_THROW(parse_json_topology(R"({"preset": "2x2", "intra": {"peer_latency_us": "slow"}})"), InputError);
}

// Values that pass "finite and > 0" but make simulated times infinite (compare then crashed in
// its charts) are refused with the field's name; the shipped presets stay inside the bounds.
TEST(Topology, RatesAndTimesHavePhysicalBounds) {
  for (const char* bad : {R"({"kernel_overhead_us": 1e308})", R"({"inter": {"latency_us": 1e307}})",
                          R"({"intra": {"peer_latency_us": 2e9}})", R"({"hbm_GBps": 1e-320})",
                          R"({"inter": {"bandwidth_GBps": 1e-320}})", R"({"node_nic_GBps": 1e-9})",
                          R"({"grouped_tflops": 1e-320})", R"({"peak_tflops": 1e12})",
                          R"({"compute_model": "per-expert", "compute": [[1, 1e-320], [2, 1e-320]]})",
                          R"({"expert_memory_GB": 1e300})"}) {
    SCOPED_TRACE(bad);
    try {
      parse_json_topology(bad);
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_TRUE(m.find("must be in [1e-6, 1e9]") != std::string::npos || m.find("must be <= 1e9") != std::string::npos)
          << m;
    }
  }
  // A bad preset inside a file names the file.
  try {
    parse_json_topology(R"({"preset": "0x8"})");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(".json': 'preset': topology '0x8': nodes = 0"), std::string::npos) << e.what();
  }
  // 0 still means "not modelled" where it did.
  EXPECT_NO_THROW(parse_json_topology(R"({"hbm_GBps": 0, "node_nic_GBps": 0, "grouped_tflops": 0})"));
  for (const char* preset : {"2x4", "2x4@h200", "8x8@h200"}) EXPECT_NO_THROW(parse_topology(preset)) << preset;
}

// A model file named like a preset must be that preset: placements name their model, and the
// commands that read a placement take the preset of that name (a file "deepseek-v2-lite" with
// hidden 4096 was planned with 4096 and simulated with the preset's 2048).
TEST(Model, AFileWithAPresetsNameMustBeThatPreset) {
  const auto path = std::filesystem::temp_directory_path() / ("grace_model_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(path);
  struct Remove {
    std::filesystem::path p;
    ~Remove() { std::filesystem::remove_all(p); }
  } remove{path};
  const std::string changed = (path / "m.json").string(), same = (path / "same.json").string();
  std::ofstream(changed) << R"({"name": "deepseek-v2-lite", "moe_layers": 26, "experts": 64, "top_k": 6,
                               "hidden": 4096, "moe_intermediate": 1408})";
  try {
    load_model(changed);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("but it differs: hidden = 4096 (the preset's: 2048);"), std::string::npos)
        << e.what();
  }
  // Fields it leaves out are the preset's (here dense_layers, shared_experts, vocab and the gate's).
  std::ofstream(changed) << R"({"name": "deepseek-v3", "moe_layers": 58, "experts": 256, "top_k": 8,
                               "hidden": 7168, "moe_intermediate": 2048})";
  EXPECT_EQ(load_model(changed).n_group, 8);
  // The stem of a file without "name" must be text: placements record it.
  const std::string bytes = (path / "m\xff.json").string();
  std::ofstream(bytes) << R"({"moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64, "moe_intermediate": 32})";
  EXPECT_THROW(load_model(bytes), InputError);
  // The file's stem is its name when "name" is absent: the same rule holds.
  const std::string stem = (path / "gpt-oss-20b.json").string();
  std::ofstream(stem) << R"({"moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64, "moe_intermediate": 32})";
  EXPECT_THROW(load_model(stem), InputError);
  // The preset written out as a file is fine.
  const ModelSpec p = load_model("deepseek-v2-lite");
  std::ofstream(same) << "{\"name\": \"deepseek-v2-lite\", \"moe_layers\": 26, \"dense_layers\": 1, \"experts\": 64, "
                         "\"shared_experts\": 2, \"top_k\": 6, \"hidden\": 2048, \"moe_intermediate\": 1408, "
                         "\"vocab\": 102400}";
  EXPECT_EQ(load_model(same).hidden, p.hidden);
  // Field ranges are the field's, not the C type's.
  std::ofstream(changed) << R"({"name": "x", "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64,
                               "moe_intermediate": 18446744073709551615})";
  try {
    load_model(changed);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("moe_intermediate = 18446744073709551615 is out of range [1, 4194304]"),
              std::string::npos)
        << e.what();
  }
  std::ofstream(changed) << R"({"name": "x", "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64,
                               "moe_intermediate": 32, "vocab": -5})";
  EXPECT_THROW(load_model(changed), InputError);
  // The gate's fields: the group-limited top-k and whether the top-k weights are renormalised.
  std::ofstream(changed) << R"({"name": "x", "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64,
                               "moe_intermediate": 32, "n_group": 4, "topk_group": 2, "norm_topk_prob": true})";
  const ModelSpec gated = load_model(changed);
  EXPECT_EQ(gated.n_group, 4);
  EXPECT_EQ(gated.topk_group, 2);
  EXPECT_TRUE(gated.norm_topk_prob);
  std::ofstream(changed) << R"({"name": "x", "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64,
                               "moe_intermediate": 32, "norm_topk_prob": false})";
  EXPECT_FALSE(load_model(changed).norm_topk_prob);
  std::ofstream(changed) << R"({"name": "x", "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64,
                               "moe_intermediate": 32, "norm_topk_prob": 1})";
  try {
    load_model(changed);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("field 'norm_topk_prob' must be true or false"), std::string::npos)
        << e.what();
  }
}

TEST(Model, PresetsMatchPublishedFacts) {
  ModelSpec m = load_model("deepseek-v2-lite");
  EXPECT_EQ(m.moe_layers, 26);
  EXPECT_EQ(m.experts, 64);
  EXPECT_EQ(m.top_k, 6);
  EXPECT_EQ(m.expert_bytes(), 3LL * 2048 * 1408 * 2);
  EXPECT_EQ(load_model("deepseek-v3").experts, 256);
  EXPECT_THROW(load_model("no-such-model"), InputError);
}

}  // namespace
}  // namespace grace
