// Grouped-GEMM compute model: the H200 preset reproduces the calibration's grouped measurements,
// the paper preset is its documented scaling, the topology keys parse and validate, and the
// model is monotone and relieves a replicated expert's primary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/simulate.h"
#include "grace/topology.h"

namespace grace {
namespace {

TEST(GroupedCompute, H200PresetFitsCalibration) {
  const std::string path = std::string(GRACE_SHARED_DATA) + "/calibration/h200.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found (shared data absent)";
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_TRUE(j.contains("grouped"));
  Topology topo = parse_topology("h200");
  EXPECT_EQ(topo.compute_model, ComputeModel::kGrouped);
  int checked = 0;
  for (const auto& e : j["grouped"]) {
    // One [2048 x 1408] GEMM per expert is a third of a DeepSeek-V2-Lite SwiGLU expert (gate, up,
    // down): a third of its weight bytes and FLOPs.
    ModelSpec model = generic_model(1, e["experts"].get<int>(), 6, 2048, 1408);
    double measured_us = e["seconds"].get<double>() * 1e6;
    double model_us =
        gpu_compute_us(std::vector<int32_t>(e["experts"].get<int>(), e["tokens"].get<int>() / e["experts"].get<int>()),
                       1, topo, model) /
        3.0;
    EXPECT_NEAR(model_us / measured_us, 1.0, 0.05)
        << e["tokens"] << " tokens: model " << model_us << " us, measured " << measured_us << " us";
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST(GroupedCompute, PaperPresetIsH200ScaledToA100) {
  Topology h200 = parse_topology("h200"), paper = parse_topology("paper");
  EXPECT_EQ(paper.compute_model, ComputeModel::kGrouped);
  EXPECT_NEAR(paper.hbm_GBps, h200.hbm_GBps * 1555.0 / 4800.0, 1e-9);  // A100 40 GB HBM2 vs H200 HBM3e
  EXPECT_NEAR(paper.grouped_tflops, h200.grouped_tflops * 312.0 / 989.0, 1e-9);
  EXPECT_NEAR(paper.grouped_tflops / paper.peak_tflops, h200.grouped_tflops / h200.peak_tflops, 1e-12);
  EXPECT_EQ(parse_topology("2x4").hbm_GBps, paper.hbm_GBps);
  EXPECT_EQ(parse_topology("2x8@h200").grouped_tflops, h200.grouped_tflops);
}

class TopologyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("grace_sim_topo_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& body) {
    std::string p = (dir_ / name).string();
    std::ofstream(p) << body;
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(TopologyFile, ComputeKeysParse) {
  Topology t = parse_topology(write("a.json", R"({"preset": "2x4@h200", "compute_model": "per-expert",
      "hbm_GBps": 1234.5, "grouped_tflops": 321, "kernel_overhead_us": 4})"));
  EXPECT_EQ(t.compute_model, ComputeModel::kPerExpert);
  EXPECT_DOUBLE_EQ(t.hbm_GBps, 1234.5);
  EXPECT_DOUBLE_EQ(t.grouped_tflops, 321);
  EXPECT_DOUBLE_EQ(t.kernel_overhead_us, 4);
  EXPECT_DOUBLE_EQ(t.peak_tflops, 989);  // from the preset
  Topology g = parse_topology(write("b.json", R"({"preset": "paper"})"));
  EXPECT_EQ(g.compute_model, ComputeModel::kGrouped);
  EXPECT_EQ(parse_compute_model("grouped"), ComputeModel::kGrouped);
  EXPECT_EQ(compute_model_name(ComputeModel::kPerExpert), "per-expert");
}

TEST_F(TopologyFile, BadComputeKeysAreInputErrors) {
  const char* bad[] = {R"({"compute_model": "fused"})", R"({"compute_model": 1})",         R"({"hbm_GBps": -1})",
                       R"({"grouped_tflops": -5})",     R"({"kernel_overhead_us": -0.5})", R"({"hbm_GBps": "fast"})"};
  int i = 0;
  for (const char* body : bad) {
    std::string stem = "bad" + std::to_string(i++);
    std::string p = write(stem + ".json", body);
    try {
      parse_topology(p);
      ADD_FAILURE() << body << " was accepted";
    } catch (const InputError& e) {
      // Field errors name the file; range errors name the topology (the file's stem).
      EXPECT_NE(std::string(e.what()).find(stem), std::string::npos) << "message names neither: " << e.what();
    }
  }
  EXPECT_THROW(parse_compute_model("Grouped"), InputError);
}

TEST(GroupedCompute, MoreTokensOrInstancesNeverFaster) {
  ModelSpec model = load_model("deepseek-v2-lite");
  for (const char* spec : {"paper", "h200"}) {
    Topology topo = parse_topology(spec);
    std::vector<int32_t> tokens(10, 0);
    double prev = 0;
    for (int step = 0; step < 400; ++step) {
      tokens[(step * 7) % 10] += 1 + step % 13;
      double t = gpu_compute_us(tokens, 1, topo, model);
      EXPECT_GE(t, prev - 1e-12) << spec << " step " << step;
      prev = t;
    }
  }
}

TEST(GroupedCompute, ReplicaRelievesItsPrimary) {
  // A GPU with a hot expert (3000 tokens) and a cold one; a replica on the other GPU takes half
  // of the hot expert's tokens. The grouped model charges the replica only its weights and FLOPs,
  // so the slowest GPU gets faster.
  ModelSpec model = load_model("deepseek-v2-lite");
  Topology topo = parse_topology("1x2@h200");
  double before = std::max(gpu_compute_us({3000, 100}, 1, topo, model), gpu_compute_us({200, 0}, 1, topo, model));
  double after = std::max(gpu_compute_us({1500, 100}, 1, topo, model), gpu_compute_us({200, 1500}, 1, topo, model));
  EXPECT_LT(after, 0.7 * before);
}

}  // namespace
}  // namespace grace
