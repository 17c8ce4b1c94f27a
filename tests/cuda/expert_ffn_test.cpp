// Expert FFN (both GEMM paths) and the whole local MoE layer against a float CPU reference.
#include <gtest/gtest.h>

#include <random>

#include "cuda/gpu_test_util.h"
#include "grace/cuda/moe_layer.h"

namespace grace::cuda {
namespace {

struct Weights {
  int E;
  int64_t H, I;
  std::vector<bf16_t> w13, w2;
};

Weights make_weights(int E, int64_t H, int64_t I, std::mt19937_64& rng) {
  Weights w{E, H, I, {}, {}};
  w.w13 = testing::random_bf16(size_t(E) * 2 * I * H, 1.0f / std::sqrt(float(H)), rng);
  w.w2 = testing::random_bf16(size_t(E) * H * I, 1.0f / std::sqrt(float(I)), rng);
  return w;
}

class CudaExpertFfn : public ::testing::TestWithParam<GemmPath> {};

TEST_P(CudaExpertFfn, MatchesCpuReference) {
  GRACE_REQUIRE_GPU();
  std::mt19937_64 rng(11);
  const int E = 6;
  const int64_t H = 256, I = 96;
  const Weights w = make_weights(E, H, I, rng);
  const std::vector<int32_t> off = {0, 17, 17, 80, 81, 200, 333};  // expert 1 empty
  const int64_t rows = off[E];
  const std::vector<bf16_t> x = testing::random_bf16(rows * H, 1.0f, rng);
  DeviceBuffer<bf16_t> d_x, d_w13, d_w2, d_y(rows * H);
  d_x.upload(x.data(), x.size());
  d_w13.upload(w.w13.data(), w.w13.size());
  d_w2.upload(w.w2.data(), w.w2.size());
  fill_bytes(d_y.get(), 0xff, rows * H * 2);  // NaN poison: every row must be written
  ExpertFfn ffn(H, I, GetParam());
  ffn.run(d_x.get(), off.data(), E, d_w13.get(), d_w2.get(), d_y.get());
  std::vector<bf16_t> y(rows * H);
  d_y.download(y.data(), y.size());

  const std::vector<float> xf = testing::to_float(x), w13f = testing::to_float(w.w13),
                           w2f = testing::to_float(w.w2);
  std::vector<float> want(rows * H), got(rows * H);
  for (int e = 0; e < E; ++e)
    for (int64_t r = off[e]; r < off[e + 1]; ++r)
      testing::ffn_reference(&xf[r * H], &w13f[size_t(e) * 2 * I * H], &w2f[size_t(e) * H * I], H, I,
                             &want[r * H]);
  for (size_t i = 0; i < y.size(); ++i) got[i] = bf16_to_float(y[i]);
  EXPECT_LT(testing::rel_error(got, want), 1.5e-2) << gemm_path_name(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Paths, CudaExpertFfn, ::testing::Values(GemmPath::kGrouped, GemmPath::kStreams, GemmPath::kAuto, GemmPath::kCublas,
                                                           GemmPath::kWgmma),  // kWgmma: I = 96 falls back to cuBLAS
                         [](const auto& info) { return std::string(gemm_path_name(info.param)); });

TEST(CudaMoeLayer, ForwardMatchesCpuReference) {
  GRACE_REQUIRE_GPU();
  std::mt19937_64 rng(5);
  const int E = 8, k = 3;
  const int64_t H = 128, I = 64, T = 700;
  const Weights w = make_weights(E, H, I, rng);
  std::vector<int32_t> keys(T * k);
  std::vector<float> gw(T * k);
  for (int64_t t = 0; t < T; ++t)
    for (int j = 0; j < k; ++j) {
      keys[t * k + j] = int32_t((t * 7 + j * 3 + (t % 5 == 0 ? 1 : 0)) % E);  // skewed, distinct
      gw[t * k + j] = 0.2f + 0.1f * float(j);
    }
  keys[0] = E;  // one skipped pair (served elsewhere): contributes nothing
  const std::vector<bf16_t> x = testing::random_bf16(T * H, 1.0f, rng);
  DeviceBuffer<bf16_t> d_x, d_w13, d_w2, d_out(T * H);
  DeviceBuffer<int32_t> d_keys;
  DeviceBuffer<float> d_gw;
  d_x.upload(x.data(), x.size());
  d_w13.upload(w.w13.data(), w.w13.size());
  d_w2.upload(w.w2.data(), w.w2.size());
  d_keys.upload(keys.data(), keys.size());
  d_gw.upload(gw.data(), gw.size());
  fill_bytes(d_out.get(), 0xff, T * H * 2);
  LocalMoeLayer layer(E, k, H, I);
  MoeLayerTimes times;
  layer.forward(d_x.get(), d_keys.get(), d_gw.get(), T, d_w13.get(), d_w2.get(), d_out.get(), nullptr, &times);
  std::vector<bf16_t> out(T * H);
  d_out.download(out.data(), out.size());

  const std::vector<float> xf = testing::to_float(x), w13f = testing::to_float(w.w13),
                           w2f = testing::to_float(w.w2);
  std::vector<float> want(T * H, 0.0f), got(T * H), y(H);
  for (int64_t t = 0; t < T; ++t)
    for (int j = 0; j < k; ++j) {
      const int e = keys[t * k + j];
      if (e >= E) continue;
      testing::ffn_reference(&xf[t * H], &w13f[size_t(e) * 2 * I * H], &w2f[size_t(e) * H * I], H, I, y.data());
      for (int64_t h = 0; h < H; ++h) want[t * H + h] += gw[t * k + j] * y[h];
    }
  for (size_t i = 0; i < out.size(); ++i) got[i] = bf16_to_float(out[i]);
  EXPECT_LT(testing::rel_error(got, want), 1.5e-2);
  EXPECT_GT(times.ffn_ms, 0.0f);
}

}  // namespace
}  // namespace grace::cuda
