// Shared setup of the wgmma GEMM tests (grouped_gemm_sm90_test.cpp, wgmma_tile_test.cpp): the skip
// rule, and the two kinds of expert-FFN case they check (random data on the host with the float
// CPU reference, or on the device with the cuBLAS grouped reference).
#ifndef GRACE_TESTS_CUDA_WGMMA_TEST_UTIL_H_
#define GRACE_TESTS_CUDA_WGMMA_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda/gpu_test_util.h"
#include "grace/cuda/expert_ffn.h"

#define GRACE_REQUIRE_WGMMA(H, I, E)                                                         \
  do {                                                                                       \
    GRACE_REQUIRE_GPU();                                                                     \
    if (!::grace::cuda::ExpertFfn::wgmma_supported(H, I, E))                                 \
      GTEST_SKIP() << "no sm_90 GPU or no sm_90a code in this build: wgmma test skipped";    \
  } while (0)

namespace grace::cuda::testing {

inline std::vector<float> download_float(const DeviceBuffer<bf16_t>& d, size_t n) {
  std::vector<bf16_t> h(n);
  d.download(h.data(), n);
  return to_float(h);
}

// Experts' weights (scaled 1 / sqrt(fan-in)) and off[E] + extra_rows token rows (`capacity`) drawn
// on the host from mt19937_64(seed) in the order w13, w2, x; uploaded; `want` = the float CPU
// reference of every row below off[E] (the extra rows are inputs nothing may read into the output).
struct HostFfnCase {
  HostFfnCase(int64_t hidden, int64_t inter, std::vector<int32_t> offsets, int64_t extra_rows, uint64_t seed)
      : H(hidden), I(inter), E(int(offsets.size()) - 1), off(std::move(offsets)), rows(off[E]),
        capacity(rows + extra_rows) {
    std::mt19937_64 rng(seed);
    w13 = random_bf16(size_t(E) * 2 * I * H, 1.0f / std::sqrt(float(H)), rng);
    w2 = random_bf16(size_t(E) * H * I, 1.0f / std::sqrt(float(I)), rng);
    x = random_bf16(capacity * H, 1.0f, rng);
    d_x.upload(x.data(), x.size());
    d_w13.upload(w13.data(), w13.size());
    d_w2.upload(w2.data(), w2.size());
    d_off.upload(off.data(), off.size());
    want.resize(rows * H);
    const auto xf = to_float(x), w13f = to_float(w13), w2f = to_float(w2);
    for (int e = 0; e < E; ++e)
      for (int64_t r = off[e]; r < off[e + 1]; ++r)
        ffn_reference(&xf[r * H], &w13f[size_t(e) * 2 * I * H], &w2f[size_t(e) * H * I], H, I, &want[r * H]);
  }

  int64_t H, I;
  int E;
  std::vector<int32_t> off;
  int64_t rows, capacity;
  std::vector<bf16_t> x, w13, w2;
  DeviceBuffer<bf16_t> d_x, d_w13, d_w2;
  DeviceBuffer<int32_t> d_off;
  std::vector<float> want;
};

// The same on the device: x, w13, w2 filled by fill_uniform_bf16 with seeds seed, seed + 1,
// seed + 2; `want` = cuBLAS grouped (GemmPath::kGrouped) on them.
struct DeviceFfnCase {
  DeviceFfnCase(int64_t hidden, int64_t inter, std::vector<int32_t> offsets, uint64_t seed)
      : H(hidden), I(inter), E(int(offsets.size()) - 1), off(std::move(offsets)), rows(off[E]), x(rows * H),
        w13(size_t(E) * 2 * I * H), w2(size_t(E) * H * I) {
    fill_uniform_bf16(x.get(), rows * H, seed, 1.0f);
    fill_uniform_bf16(w13.get(), int64_t(w13.size()), seed + 1, 1.0f / std::sqrt(float(H)));
    fill_uniform_bf16(w2.get(), int64_t(w2.size()), seed + 2, 1.0f / std::sqrt(float(I)));
    d_off.upload(off.data(), off.size());
    DeviceBuffer<bf16_t> ref(rows * H);
    ExpertFfn cublas(H, I, GemmPath::kGrouped);
    cublas.run(x.get(), off.data(), E, w13.get(), w2.get(), ref.get());
    want = download_float(ref, rows * H);
  }

  int64_t H, I;
  int E;
  std::vector<int32_t> off;
  int64_t rows;
  DeviceBuffer<bf16_t> x, w13, w2;
  DeviceBuffer<int32_t> d_off;
  std::vector<float> want;
};

}  // namespace grace::cuda::testing

#endif  // GRACE_TESTS_CUDA_WGMMA_TEST_UTIL_H_
