// The GPU gate (grace/cuda/gate.h) against the CPU gate (grace/engine/gate.h) on the same BF16
// hidden states: same logits up to summation order, same experts (ties excepted), same weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cuda/gpu_test_util.h"
#include "grace/cuda/gate.h"
#include "grace/engine/gate.h"

namespace grace::cuda {
namespace {

void check_gate(int E, int k, int groups, int keep, bool norm) {
  constexpr int64_t n = 500, H = 512;
  std::mt19937_64 rng(11);
  const std::vector<bf16_t> x = testing::random_bf16(size_t(n * H), 1.0f, rng);
  std::vector<float> wg(size_t(E) * H);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  for (auto& v : wg) v = u(rng);
  DeviceBuffer<bf16_t> dx;
  dx.upload(x.data(), x.size());
  DeviceBuffer<float> dwg, dw, dz;
  dwg.upload(wg.data(), wg.size());
  DeviceBuffer<int32_t> did;
  did.resize(size_t(n * k));
  dw.resize(size_t(n * k));
  dz.resize(size_t(n * E));
  gate_on_device(dx.get(), dwg.get(), n, H, DeviceGateSpec{E, k, groups, keep, norm}, did.get(), dw.get(), dz.get(),
                 nullptr);
  synchronize();
  std::vector<int32_t> gid(size_t(n * k));
  std::vector<float> gw(size_t(n * k)), gz(size_t(n * E));
  did.download(gid.data(), gid.size());
  dw.download(gw.data(), gw.size());
  dz.download(gz.data(), gz.size());
  // CPU: logits from the same BF16 inputs, then the selection on the GPU's logits (so a tie broken
  // differently by summation order cannot hide a selection bug) and on its own.
  const std::vector<float> xf = testing::to_float(x);
  std::vector<float> cz(size_t(n * E));
  engine::gate_logits(xf.data(), n, H, wg.data(), E, cz.data());
  double max_dz = 0;
  for (size_t i = 0; i < cz.size(); ++i) max_dz = std::max(max_dz, double(std::fabs(cz[i] - gz[i])));
  EXPECT_LT(max_dz, 1e-4);
  std::vector<int32_t> cid(size_t(n * k));
  std::vector<float> cw(size_t(n * k));
  engine::gate_topk(gz.data(), n, engine::GateSpec{E, k, groups, keep, norm}, cid.data(), cw.data());
  for (size_t i = 0; i < cid.size(); ++i) {
    ASSERT_EQ(cid[i], gid[i]) << "pair " << i;
    ASSERT_NEAR(cw[i], gw[i], 1e-5) << "pair " << i;
  }
}

TEST(CudaGate, MatchesCpuGate) {
  GRACE_REQUIRE_GPU();
  check_gate(64, 6, 1, 1, false);  // DeepSeek-V2-Lite
  check_gate(128, 8, 1, 1, true);  // Qwen3
}

TEST(CudaGate, MatchesCpuGroupLimitedGate) {
  GRACE_REQUIRE_GPU();
  check_gate(256, 8, 8, 4, true);  // DeepSeek-V3's grouping
}

}  // namespace
}  // namespace grace::cuda
