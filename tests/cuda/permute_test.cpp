// Bucketing, row gather and weighted combine: a round trip against a CPU computation.
#include <gtest/gtest.h>

#include <random>

#include "cuda/gpu_test_util.h"
#include "grace/cuda/permute.h"

namespace grace::cuda {
namespace {

TEST(CudaPermute, BucketsAreStableAndRoundTripCombines) {
  GRACE_REQUIRE_GPU();
  std::mt19937_64 rng(3);
  const int64_t T = 3001, H = 136;
  const int k = 3, B = 37;
  std::vector<int32_t> keys(T * k);
  for (auto& x : keys) x = int32_t(rng() % (B + 1));  // B = skipped
  DeviceBuffer<int32_t> d_keys;
  d_keys.upload(keys.data(), keys.size());
  PairBuckets pb;
  pb.build(d_keys.get(), T * k, B);
  const std::vector<int32_t> off = pb.host_offsets();
  std::vector<int32_t> order(T * k), pos(T * k);
  copy_to_host(order.data(), pb.order(), order.size() * 4);
  copy_to_host(pos.data(), pb.position(), pos.size() * 4);

  // Offsets are the bucket histogram's prefix sum; order is stable by key; position inverts it.
  std::vector<int32_t> want_off(B + 2, 0);
  for (int32_t x : keys) want_off[x + 1]++;
  for (int b = 0; b <= B; ++b) want_off[b + 1] += want_off[b];
  for (int b = 0; b <= B; ++b) ASSERT_EQ(off[b], want_off[b]) << "bucket " << b;
  for (int64_t i = 0; i < T * k; ++i) {
    ASSERT_EQ(pos[order[i]], i);
    if (i > 0) {
      const int a = keys[order[i - 1]], c = keys[order[i]];
      ASSERT_TRUE(a < c || (a == c && order[i - 1] < order[i])) << "unstable at " << i;
    }
  }

  // Gather rows, then combine them back with gate weights: out[t] = (sum of kept w) * x[t].
  const std::vector<bf16_t> x = testing::random_bf16(T * H, 1.0f, rng);
  std::vector<float> w(T * k);
  for (auto& v : w) v = float(rng() % 1000) / 1000.0f;
  DeviceBuffer<bf16_t> d_x, d_rows(T * k * H), d_out(T * H);
  DeviceBuffer<float> d_w;
  d_x.upload(x.data(), x.size());
  d_w.upload(w.data(), w.size());
  const int64_t kept = off[B];
  fill_bytes(d_rows.get(), 0xff, T * k * H * 2);
  gather_rows(d_x.get(), pb.order(), k, kept, H, d_rows.get());
  std::vector<bf16_t> rows(kept * H);
  copy_to_host(rows.data(), d_rows.get(), rows.size() * 2);
  for (int64_t i = 0; i < kept; ++i)
    for (int64_t h = 0; h < H; ++h) ASSERT_EQ(rows[i * H + h], x[(order[i] / k) * H + h]);

  // scatter_rows writes the same rows token by token.
  DeviceBuffer<bf16_t> d_rows2(T * k * H);
  fill_bytes(d_rows2.get(), 0xff, T * k * H * 2);
  scatter_rows(d_x.get(), pb.position(), pb.offsets() + B, T, k, H, d_rows2.get());
  std::vector<bf16_t> rows2(kept * H);
  copy_to_host(rows2.data(), d_rows2.get(), rows2.size() * 2);
  EXPECT_EQ(rows2, rows);
  // The same as a programmatic dependent launch right after a fresh build.
  pb.build(d_keys.get(), T * k, B);
  fill_bytes(d_rows2.get(), 0xff, T * k * H * 2);
  scatter_rows_after_build(d_x.get(), pb.position(), pb.offsets() + B, T, k, H, d_rows2.get());
  copy_to_host(rows2.data(), d_rows2.get(), rows2.size() * 2);
  EXPECT_EQ(rows2, rows);

  fill_bytes(d_out.get(), 0xff, T * H * 2);
  combine_rows(d_rows.get(), pb.position(), d_w.get(), pb.offsets() + B, T, k, H, d_out.get());
  std::vector<bf16_t> out(T * H);
  d_out.download(out.data(), out.size());
  std::vector<float> got(T * H), want(T * H);
  for (int64_t t = 0; t < T; ++t) {
    float ws = 0;
    for (int j = 0; j < k; ++j)
      if (keys[t * k + j] < B) ws += w[t * k + j];
    for (int64_t h = 0; h < H; ++h) {
      got[t * H + h] = bf16_to_float(out[t * H + h]);
      want[t * H + h] = ws * bf16_to_float(x[t * H + h]);
    }
  }
  EXPECT_LT(testing::rel_error(got, want), 5e-3);
}

// Both sort paths (one-CTA counting sort for <= 255 buckets and <= 8192 pairs, cub radix sort
// otherwise), skewed keys, sizes that do not divide the warps' ranges: same offsets, stable
// order, inverse.
TEST(CudaPermute, BothSortPathsAreStable) {
  GRACE_REQUIRE_GPU();
  std::mt19937_64 rng(17);
  for (const int B : {1, 64, 255, 256, 1000}) {
    for (const int64_t n : {int64_t(31), int64_t(1000), int64_t(8192), int64_t(8193), int64_t(24576), int64_t(30001), int64_t(32768), int64_t(32769),
                            int64_t(65536), int64_t(70001)}) {
      std::vector<int32_t> keys(n);
      for (auto& x : keys) x = int32_t(rng() % 4 == 0 ? rng() % (B + 1) : rng() % (B / 8 + 1));  // skewed
      DeviceBuffer<int32_t> d_keys;
      d_keys.upload(keys.data(), keys.size());
      PairBuckets pb;
      pb.build(d_keys.get(), n, B);
      const std::vector<int32_t> off = pb.host_offsets();
      std::vector<int32_t> order(n), pos(n);
      copy_to_host(order.data(), pb.order(), n * 4);
      copy_to_host(pos.data(), pb.position(), n * 4);
      std::vector<int32_t> want_off(B + 2, 0);
      for (int32_t x : keys) want_off[x + 1]++;
      for (int b = 0; b <= B; ++b) want_off[b + 1] += want_off[b];
      for (int b = 0; b <= B; ++b) ASSERT_EQ(off[b], want_off[b]) << "B " << B << " n " << n << " bucket " << b;
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(pos[order[i]], i) << "B " << B << " n " << n;
        if (i > 0) {
          const int a = keys[order[i - 1]], c = keys[order[i]];
          ASSERT_TRUE(a < c || (a == c && order[i - 1] < order[i])) << "B " << B << " n " << n << " unstable at " << i;
        }
      }
    }
  }
}

// build_scatter (tiled histogram, then rank + row scatter) gives build()'s order, position and
// offsets and scatter_rows' rows: small and large batches, top-k 1..8, skipped pairs, up to 255
// buckets, and batches past its tile limit (the build + scatter fallback); several layouts of
// launch 1's histogram (TiledOptions::hist_group, tile counts).
TEST(CudaPermute, BuildScatterMatchesBuildThenScatter) {
  GRACE_REQUIRE_GPU();
  std::mt19937_64 rng(29);
  const int64_t H = 24;
  struct Case { int64_t T; int k; int B; };
  for (const Case c : {Case{1, 1, 1}, Case{5, 6, 64}, Case{256, 6, 64}, Case{1000, 3, 255}, Case{2001, 5, 255}, Case{4096, 6, 80},
                       Case{4096, 8, 128}, Case{16384, 6, 64}, Case{70001, 8, 64}, Case{3001, 2, 300}}) {
    const int64_t n = c.T * c.k;
    std::vector<int32_t> keys(n);
    for (auto& x : keys) x = int32_t(rng() % 4 == 0 ? rng() % (c.B + 1) : rng() % (c.B / 8 + 1));  // skewed
    keys[0] = c.B;  // skipped
    const std::vector<bf16_t> x = testing::random_bf16(c.T * H, 1.0f, rng);
    DeviceBuffer<int32_t> d_keys;
    DeviceBuffer<bf16_t> d_x, want_rows(n * H), got_rows(n * H);
    d_keys.upload(keys.data(), keys.size());
    d_x.upload(x.data(), x.size());
    PairBuckets ref;
    ref.build(d_keys.get(), n, c.B);
    fill_bytes(want_rows.get(), 0xff, n * H * 2);
    scatter_rows(d_x.get(), ref.position(), ref.offsets() + c.B, c.T, c.k, H, want_rows.get());
    std::vector<int32_t> o1(n), o2(n), q1(n), q2(n);
    copy_to_host(o1.data(), ref.order(), n * 4);
    copy_to_host(q1.data(), ref.position(), n * 4);
    std::vector<bf16_t> r1(n * H), r2(n * H);
    copy_to_host(r1.data(), want_rows.get(), n * H * 2);
    // The default (histogram tiles of 4 copy tiles, each counted apart by launch 1) and the other
    // layouts of launch 1's histogram: 1, 2, 8 or 16 copy tiles per column (16: launch 2 counts
    // its group's earlier tiles itself), 1,024 tiles (histogram rows longer than a warp's loads);
    // launch 2 counting the earlier tiles itself; the rows' prefetch on and off.
    struct Opt { int group; int tiles; bool sub; bool prefetch; };
    for (const Opt op : {Opt{0, 0, true, true}, Opt{1, 0, true, true}, Opt{2, 0, true, true}, Opt{8, 0, true, true},
                         Opt{16, 0, true, true}, Opt{1, 1024, true, true}, Opt{4, 1024, true, true},
                         Opt{0, 0, false, true}, Opt{8, 0, false, false}, Opt{0, 0, true, false}}) {
      PairBuckets pb;
      PairBuckets::TiledOptions opt;
      opt.hist_group = op.group;
      opt.sub_counts = op.sub;
      opt.prefetch_rows = op.prefetch;
      pb.set_tiled_options(opt);
      pb.set_tile_target(op.tiles);
      fill_bytes(got_rows.get(), 0xff, n * H * 2);
      for (int rep = 0; rep < 2; ++rep)  // twice: scratch reused
        pb.build_scatter(d_keys.get(), c.T, c.k, c.B, d_x.get(), H, got_rows.get());
      const std::string what = "T " + std::to_string(c.T) + " k " + std::to_string(c.k) + " B " + std::to_string(c.B) +
                               " group " + std::to_string(op.group) + " tiles " + std::to_string(op.tiles) +
                               " sub " + std::to_string(op.sub) + " prefetch " + std::to_string(op.prefetch);
      ASSERT_EQ(pb.host_offsets(), ref.host_offsets()) << what;
      copy_to_host(o2.data(), pb.order(), n * 4);
      copy_to_host(q2.data(), pb.position(), n * 4);
      ASSERT_EQ(o2, o1) << what;
      ASSERT_EQ(q2, q1) << what;
      copy_to_host(r2.data(), got_rows.get(), n * H * 2);
      ASSERT_EQ(r2, r1) << what;  // kept rows equal, rows past the kept ones still poisoned in both
    }
  }
}

TEST(CudaPermute, EmptyBatchGivesZeroOffsets) {
  GRACE_REQUIRE_GPU();
  PairBuckets pb;
  pb.build(nullptr, 0, 5);
  const std::vector<int32_t> off = pb.host_offsets();
  ASSERT_EQ(off.size(), 6u);
  for (int32_t o : off) EXPECT_EQ(o, 0);
}

}  // namespace
}  // namespace grace::cuda
