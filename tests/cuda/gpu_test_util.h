// Shared helpers of the GPU tests: skip without a GPU, random bf16 data, CPU SwiGLU reference.
#ifndef GRACE_TESTS_CUDA_GPU_TEST_UTIL_H_
#define GRACE_TESTS_CUDA_GPU_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "grace/cuda/device.h"

#define GRACE_REQUIRE_GPU()                                                          \
  do {                                                                               \
    if (::grace::cuda::device_count() == 0)                                          \
      GTEST_SKIP() << "no CUDA GPU on this machine: GPU test skipped";               \
  } while (0)

namespace grace::cuda::testing {

inline std::vector<bf16_t> random_bf16(size_t n, float scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<bf16_t> v(n);
  for (auto& x : v) x = float_to_bf16(u(rng));
  return v;
}

inline std::vector<float> to_float(const std::vector<bf16_t>& v) {
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) f[i] = bf16_to_float(v[i]);
  return f;
}

// y = W2 (silu(Wg x) * (Wu x)) with w13 [2I][H] (gate rows then up rows), w2 [H][I], in float.
inline void ffn_reference(const float* x, const float* w13, const float* w2, int64_t H, int64_t I,
                          float* y) {
  std::vector<double> act(I);
  for (int64_t i = 0; i < I; ++i) {
    double g = 0, u = 0;
    for (int64_t h = 0; h < H; ++h) {
      g += double(w13[i * H + h]) * x[h];
      u += double(w13[(I + i) * H + h]) * x[h];
    }
    act[i] = g / (1.0 + std::exp(-g)) * u;
  }
  for (int64_t h = 0; h < H; ++h) {
    double s = 0;
    for (int64_t i = 0; i < I; ++i) s += double(w2[h * I + i]) * act[i];
    y[h] = float(s);
  }
}

// ||a - b|| / ||b||
inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += double(a[i] - b[i]) * double(a[i] - b[i]);
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

}  // namespace grace::cuda::testing

#endif  // GRACE_TESTS_CUDA_GPU_TEST_UTIL_H_
