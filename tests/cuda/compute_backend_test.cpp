// The CUDA ComputeBackend against the F32 SwiGLU reference, through the engine's interface.
#include <gtest/gtest.h>

#include <random>

#include "cuda/gpu_test_util.h"
#include "grace/cuda/compute_backend.h"

namespace grace::cuda {
namespace {

TEST(CudaCompute, RunMatchesReferenceWithinBf16Tolerance) {
  GRACE_REQUIRE_GPU();
  const int64_t H = 64, I = 40;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> u(-1, 1);
  auto rnd = [&](size_t n, float s) {
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng) * s;
    return v;
  };
  auto be = make_cuda_compute(0);
  EXPECT_EQ(be->name(), "cuda");
  be->configure(H, I);
  std::vector<std::vector<float>> gate, up, down;
  for (int e = 0; e < 3; ++e) {
    gate.push_back(rnd(I * H, 0.125f));
    up.push_back(rnd(I * H, 0.125f));
    down.push_back(rnd(H * I, 0.16f));
    be->load_expert(1, e, {gate[e].data(), up[e].data(), down[e].data()});
  }
  EXPECT_TRUE(be->has_expert(1, 2));
  EXPECT_FALSE(be->has_expert(0, 2));
  EXPECT_EQ(be->memory_bytes(), size_t(3) * 3 * H * I * 2);

  const int64_t rows[3] = {5, 0, 33};
  std::vector<std::vector<float>> in, out;
  std::vector<engine::ExpertTask> tasks;
  for (int e = 0; e < 3; ++e) {
    in.push_back(rnd(rows[e] * H, 1.0f));
    out.emplace_back(rows[e] * H, NAN);
  }
  for (int e = 2; e >= 0; --e) tasks.push_back({e, rows[e], in[e].data(), out[e].data()});
  be->run(1, tasks.data(), int(tasks.size()));
  for (int e = 0; e < 3; ++e) {
    // Reference on the same weights in float (w13 = gate rows then up rows).
    std::vector<float> w13(gate[e]);
    w13.insert(w13.end(), up[e].begin(), up[e].end());
    std::vector<float> want(rows[e] * H);
    for (int64_t r = 0; r < rows[e]; ++r)
      testing::ffn_reference(&in[e][r * H], w13.data(), down[e].data(), H, I, &want[r * H]);
    if (rows[e] > 0) {
      EXPECT_LT(testing::rel_error(out[e], want), 2e-2) << "expert " << e;
    }
  }
}

}  // namespace
}  // namespace grace::cuda
