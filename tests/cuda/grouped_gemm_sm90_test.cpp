// The sm_90a grouped expert GEMM (GemmPath::kWgmma) against the float CPU reference and the
// cuBLAS grouped path, and the sync-free layer it enables under CUDA-graph capture. Skips without
// a compute-capability 9.0 GPU or without sm_90a code in the build.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>

#include "cuda/wgmma_test_util.h"
#include "grace/cuda/moe_layer.h"

namespace grace::cuda {
namespace {

using testing::download_float;

TEST(CudaWgmmaFfn, MatchesCpuReferenceAndCublas) {
  const int E = 6;
  const int64_t H = 512, I = 256;
  GRACE_REQUIRE_WGMMA(H, I, E);
  // Empty experts, a one-row expert, experts spanning several 128-row token tiles; rows past
  // off[E]: never read into y.
  testing::HostFfnCase c(H, I, {0, 0, 1, 130, 390, 397, 397}, 37, 23);
  const std::vector<int32_t>& off = c.off;
  const int64_t rows = c.rows, capacity = c.capacity;
  DeviceBuffer<bf16_t>&d_x = c.d_x, &d_w13 = c.d_w13, &d_w2 = c.d_w2;
  DeviceBuffer<int32_t>& d_off = c.d_off;
  DeviceBuffer<bf16_t> d_y(capacity * H), d_ref(capacity * H);
  fill_bytes(d_y.get(), 0xff, capacity * H * 2);  // NaN poison
  ExpertFfn ffn(H, I, GemmPath::kWgmma), cublas(H, I, GemmPath::kGrouped);
  ASSERT_TRUE(ffn.uses_device_offsets(E));
  ffn.run_device(d_x.get(), capacity, d_off.get(), E, d_w13.get(), d_w2.get(), d_y.get());
  cublas.run(d_x.get(), off.data(), E, d_w13.get(), d_w2.get(), d_ref.get());
  synchronize();

  std::vector<bf16_t> yb(capacity * H);
  d_y.download(yb.data(), yb.size());
  for (int64_t i = rows * H; i < capacity * H; ++i) ASSERT_EQ(yb[i], 0xffff) << "row past the offsets written";
  std::vector<float> got(rows * H);
  for (int64_t i = 0; i < rows * H; ++i) got[i] = bf16_to_float(yb[i]);
  EXPECT_LT(testing::rel_error(got, c.want), 1e-2);
  std::vector<float> ref = download_float(d_ref, rows * H);
  EXPECT_LT(testing::rel_error(got, ref), 1e-2);

  // Host-offset entry point: same result.
  fill_bytes(d_y.get(), 0xff, capacity * H * 2);
  ffn.run(d_x.get(), off.data(), E, d_w13.get(), d_w2.get(), d_y.get());
  const std::vector<float> again = download_float(d_y, rows * H);
  EXPECT_EQ(again, got);

  // The default path (kAuto) takes the same kernels where they run: same result, bit for bit.
  ExpertFfn dflt(H, I);
  ASSERT_EQ(dflt.path(), GemmPath::kAuto);
  ASSERT_TRUE(dflt.uses_device_offsets(E));
  fill_bytes(d_y.get(), 0xff, capacity * H * 2);
  dflt.run(d_x.get(), off.data(), E, d_w13.get(), d_w2.get(), d_y.get());
  EXPECT_EQ(download_float(d_y, rows * H), got);
}

// The DeepSeek-V2-Lite expert shape with skewed routing over 64 experts, against cuBLAS.
TEST(CudaWgmmaFfn, DeepSeekShapeMatchesCublas) {
  const int E = 64;
  const int64_t H = 2048, I = 1408;
  GRACE_REQUIRE_WGMMA(H, I, E);
  std::mt19937_64 rng(7);
  std::vector<int32_t> off(E + 1, 0);
  for (int e = 0; e < E; ++e) off[e + 1] = off[e] + int32_t(rng() % 5 == 0 ? 0 : rng() % 300);
  testing::DeviceFfnCase c(H, I, off, 31);
  DeviceBuffer<bf16_t> y(c.rows * H);
  fill_bytes(y.get(), 0xff, c.rows * H * 2);
  ExpertFfn ffn(H, I, GemmPath::kWgmma);
  ffn.run(c.x.get(), off.data(), E, c.w13.get(), c.w2.get(), y.get());
  EXPECT_LT(testing::rel_error(download_float(y, c.rows * H), c.want), 1e-2);
}

// The two schedules of the wgmma kernels (dynamic: work items from a device counter, partial
// token tiles computed to their rows rounded up to 32; static: the third round's) against the CPU
// reference, with experts whose last token tile has every width class (1..32, ..64, ..96, ..128
// rows), empty experts, a launch with no work at all, and repeated launches (each dynamic launch
// must leave its counters at zero for the next one).
TEST(CudaWgmmaFfn, SchedulesMatchReferenceAndRepeat) {
  const int64_t H = 512, I = 256;
  const std::vector<int32_t> sizes = {1, 0, 31, 32, 33, 64, 65, 96, 97, 127, 128, 129, 255, 0, 200, 7, 300, 161};
  const int E = int(sizes.size());
  GRACE_REQUIRE_WGMMA(H, I, E);
  struct Restore {
    WgmmaSchedule s = wgmma_schedule();
    ~Restore() { set_wgmma_schedule(s); }
  } restore;
  std::vector<int32_t> off(E + 1, 0), none(E + 1, 0);
  for (int e = 0; e < E; ++e) off[e + 1] = off[e] + sizes[e];
  testing::HostFfnCase c(H, I, off, 0, 29);
  const int64_t rows = c.rows;
  const std::vector<float>& want = c.want;
  DeviceBuffer<bf16_t>&d_x = c.d_x, &d_w13 = c.d_w13, &d_w2 = c.d_w2;
  DeviceBuffer<int32_t>& d_off = c.d_off;
  DeviceBuffer<bf16_t> d_y(rows * H);
  DeviceBuffer<int32_t> d_none;
  d_none.upload(none.data(), none.size());

  const WgmmaSchedule scheds[3] = {WgmmaSchedule::kDynamic, WgmmaSchedule::kStatic, WgmmaSchedule::kDynamic4};
  const char* names[3] = {"dynamic schedule", "static schedule", "fourth round's dynamic schedule"};
  std::vector<float> first[3];
  for (int sched = 0; sched < 3; ++sched) {
    set_wgmma_schedule(scheds[sched]);
    const std::string what = names[sched];
    ExpertFfn ffn(H, I, GemmPath::kWgmma);
    for (int rep = 0; rep < 3; ++rep) {
      if (rep == 1) ffn.run_device(d_x.get(), rows, d_none.get(), E, d_w13.get(), d_w2.get(), d_y.get());  // no work
      fill_bytes(d_y.get(), 0xff, rows * H * 2);  // NaN poison: a row left out fails the error check
      ffn.run_device(d_x.get(), rows, d_off.get(), E, d_w13.get(), d_w2.get(), d_y.get());
      synchronize();
      const std::vector<float> got = download_float(d_y, rows * H);
      EXPECT_LT(testing::rel_error(got, want), 1e-2) << what << ", call " << rep;
      if (rep == 0) first[sched] = got;
      else EXPECT_EQ(got, first[sched]) << what << ": call " << rep << " differs from the first";
    }
  }
  // Same products in every schedule: the narrow MMAs compute the same columns.
  EXPECT_LT(testing::rel_error(first[0], first[1]), 1e-3);
  EXPECT_LT(testing::rel_error(first[0], first[2]), 1e-3);
  // Both ways of computing silu in the SwiGLU epilogue (default schedule).
  struct RestoreSilu {
    WgmmaSilu s = wgmma_silu();
    ~RestoreSilu() { set_wgmma_silu(s); }
  } restore_silu;
  set_wgmma_schedule(WgmmaSchedule::kDynamic);
  std::vector<float> by[2];
  for (int silu = 0; silu < 2; ++silu) {
    set_wgmma_silu(silu == 0 ? WgmmaSilu::kTanh : WgmmaSilu::kExp);
    ExpertFfn ffn(H, I, GemmPath::kWgmma);
    fill_bytes(d_y.get(), 0xff, rows * H * 2);
    ffn.run_device(d_x.get(), rows, d_off.get(), E, d_w13.get(), d_w2.get(), d_y.get());
    synchronize();
    by[silu] = download_float(d_y, rows * H);
    EXPECT_LT(testing::rel_error(by[silu], want), 1e-2) << (silu == 0 ? "tanh" : "exp") << " silu";
  }
  EXPECT_LT(testing::rel_error(by[0], by[1]), 3e-3) << "the two silu epilogues";
}

// LocalMoeLayer on the wgmma path: no host sync, so it replays from a CUDA graph; same output
// as the cuBLAS layer, replay after replay (the GEMMs and the combine are programmatic dependent
// launches), and a token whose pairs are all skipped comes out exactly zero.
TEST(CudaWgmmaFfn, LayerCapturesInGraph) {
  const int E = 8, k = 3;
  const int64_t H = 256, I = 128, T = 700;
  GRACE_REQUIRE_WGMMA(H, I, E);
  std::mt19937_64 rng(5);
  std::vector<int32_t> keys(T * k);
  std::vector<float> gw(T * k);
  for (int64_t t = 0; t < T; ++t)
    for (int j = 0; j < k; ++j) {
      keys[t * k + j] = int32_t((t * 7 + j * 3 + (t % 5 == 0 ? 1 : 0)) % E);
      gw[t * k + j] = 0.2f + 0.1f * float(j);
    }
  keys[0] = E;  // skipped pair
  for (int j = 0; j < k; ++j) keys[3 * k + j] = E;  // token 3: every pair skipped
  DeviceBuffer<bf16_t> x(T * H), w13(size_t(E) * 2 * I * H), w2(size_t(E) * H * I), out(T * H), ref(T * H);
  DeviceBuffer<int32_t> d_keys;
  DeviceBuffer<float> d_gw;
  d_keys.upload(keys.data(), keys.size());
  d_gw.upload(gw.data(), gw.size());
  fill_uniform_bf16(x.get(), T * H, 41, 1.0f);
  fill_uniform_bf16(w13.get(), int64_t(w13.size()), 42, 1.0f / std::sqrt(float(H)));
  fill_uniform_bf16(w2.get(), int64_t(w2.size()), 43, 1.0f / std::sqrt(float(I)));
  LocalMoeLayer cublas_layer(E, k, H, I, GemmPath::kGrouped);
  cublas_layer.forward(x.get(), d_keys.get(), d_gw.get(), T, w13.get(), w2.get(), ref.get());
  const std::vector<float> want = download_float(ref, T * H);

  {
    LocalMoeLayer layer(E, k, H, I, GemmPath::kWgmma);
    const std::string what = "wgmma layer";
    cudaStream_t s;
    ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    fill_bytes(out.get(), 0xff, T * H * 2);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    layer.forward(x.get(), d_keys.get(), d_gw.get(), T, w13.get(), w2.get(), out.get(), s);  // sizes buffers
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    EXPECT_LT(testing::rel_error(download_float(out, T * H), want), 1e-2) << what;
    cudaGraph_t g;
    cudaGraphExec_t ge;
    ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    layer.forward(x.get(), d_keys.get(), d_gw.get(), T, w13.get(), w2.get(), out.get(), s);
    ASSERT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
    ASSERT_EQ(cudaGraphInstantiate(&ge, g, 0), cudaSuccess);
    for (int rep = 0; rep < 2; ++rep) {
      fill_bytes(out.get(), 0xff, T * H * 2);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // the poison is in before the replay on s
      ASSERT_EQ(cudaGraphLaunch(ge, s), cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
      const std::vector<float> got = download_float(out, T * H);
      EXPECT_LT(testing::rel_error(got, want), 1e-2) << what << ", replay " << rep;
      for (int64_t h = 0; h < H; ++h) ASSERT_EQ(got[3 * H + h], 0.0f) << what << ": token with no kept pair";
    }
    cudaGraphExecDestroy(ge);
    cudaGraphDestroy(g);
    cudaStreamDestroy(s);
  }
}

// The gate/up GEMM with its rows gathered from the token rows through the bucket order (what
// the layer runs by default) against the same GEMMs on the grouped copy that bucket + scatter
// makes: bit for bit on every kept row, rows past the kept ones left as they were, in both
// schedules, on the one-CTA counting-sort bucketing (3,600 pairs) and the tiled one (12,000),
// skipped pairs included; the bucketing without the scatter gives the same order and offsets;
// and the layer with either input gives the same output bit for bit.
TEST(CudaWgmmaFfn, GatheredInputMatchesGroupedCopy) {
  const int E = 18, k = 4;
  const int64_t H = 512, I = 256;
  GRACE_REQUIRE_WGMMA(H, I, E);
  struct Restore {
    WgmmaSchedule s = wgmma_schedule();
    WgmmaInput in = wgmma_input();
    ~Restore() { set_wgmma_schedule(s), set_wgmma_input(in); }
  } restore;
  DeviceBuffer<bf16_t> w13(size_t(E) * 2 * I * H), w2(size_t(E) * H * I);
  fill_uniform_bf16(w13.get(), int64_t(w13.size()), 51, 1.0f / std::sqrt(float(H)));
  fill_uniform_bf16(w2.get(), int64_t(w2.size()), 52, 1.0f / std::sqrt(float(I)));
  std::mt19937_64 rng(53);
  for (const int64_t T : {900, 3000}) {
    const int64_t P = T * k;
    std::vector<int32_t> keys(P);
    std::vector<float> gw(P);
    for (int64_t p = 0; p < P; ++p) {  // skewed: low experts hot, ~1 in 19 pairs skipped (key E)
      const int32_t a = int32_t(rng() % (E + 1)), b = int32_t(rng() % (E + 1));
      keys[p] = std::min(a, b) == 0 && rng() % 2 ? E : std::min(a, b);
      gw[p] = 0.1f + float(rng() % 100) * 0.01f;
    }
    DeviceBuffer<bf16_t> x(T * H), xs(P * H), y1(P * H), y2(P * H), o1(T * H), o2(T * H);
    DeviceBuffer<int32_t> d_keys;
    DeviceBuffer<float> d_gw;
    d_keys.upload(keys.data(), keys.size());
    d_gw.upload(gw.data(), gw.size());
    fill_uniform_bf16(x.get(), T * H, 54 + T, 1.0f);
    PairBuckets pb, only;
    pb.build_scatter(d_keys.get(), T, k, E, x.get(), H, xs.get());
    only.build_scatter(d_keys.get(), T, k, E, x.get(), H, nullptr);
    const std::vector<int32_t> off = pb.host_offsets();
    ASSERT_EQ(only.host_offsets(), off) << T << " tokens: bucketing alone, offsets";
    const int64_t kept = off[E];
    std::vector<int32_t> ord1(kept), ord2(kept);
    copy_to_host(ord1.data(), pb.order(), kept * sizeof(int32_t));
    copy_to_host(ord2.data(), only.order(), kept * sizeof(int32_t));
    ASSERT_EQ(ord1, ord2) << T << " tokens: bucketing alone, order";
    for (int sched = 0; sched < 3; ++sched) {
      const WgmmaSchedule ws[3] = {WgmmaSchedule::kDynamic, WgmmaSchedule::kStatic, WgmmaSchedule::kDynamic4};
      set_wgmma_schedule(ws[sched]);
      const std::string what = std::to_string(T) + " tokens, schedule " + std::to_string(sched);
      ExpertFfn ffn(H, I, GemmPath::kWgmma);
      fill_bytes(y1.get(), 0xff, P * H * 2);
      fill_bytes(y2.get(), 0xff, P * H * 2);
      ffn.run_device(xs.get(), P, pb.offsets(), E, w13.get(), w2.get(), y1.get());
      for (int rep = 0; rep < 2; ++rep)  // the second call runs on the counters the first left
        ffn.run_device_gather(x.get(), pb.order(), k, P, pb.offsets(), E, w13.get(), w2.get(), y2.get());
      synchronize();
      std::vector<bf16_t> a(P * H), b(P * H);
      y1.download(a.data(), a.size());
      y2.download(b.data(), b.size());
      EXPECT_EQ(std::memcmp(a.data(), b.data(), size_t(kept) * H * sizeof(bf16_t)), 0) << what << ": kept rows differ";
      const std::vector<float> bf = testing::to_float(b);
      double sum = 0;
      for (int64_t i = 0; i < kept * H; ++i) sum += std::fabs(bf[i]);
      EXPECT_TRUE(std::isfinite(sum) && sum > 0) << what << ": gathered result not finite or all zero";
      for (int64_t i = kept * H; i < P * H; ++i)
        ASSERT_TRUE(std::isnan(bf[i])) << what << ": row " << i / H << " past the kept rows was written";
    }
    // The layer with either input (default schedule).
    set_wgmma_schedule(WgmmaSchedule::kDynamic);
    LocalMoeLayer layer(E, k, H, I, GemmPath::kWgmma);
    set_wgmma_input(WgmmaInput::kScatter);
    layer.forward(x.get(), d_keys.get(), d_gw.get(), T, w13.get(), w2.get(), o1.get());
    set_wgmma_input(WgmmaInput::kGather);
    layer.forward(x.get(), d_keys.get(), d_gw.get(), T, w13.get(), w2.get(), o2.get());
    synchronize();
    std::vector<bf16_t> a(T * H), b(T * H);
    o1.download(a.data(), a.size());
    o2.download(b.data(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(bf16_t)), 0) << T << " tokens: layer outputs differ";
  }
}

}  // namespace
}  // namespace grace::cuda
