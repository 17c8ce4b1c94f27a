// Tiled bucket + scatter: PairBuckets::build_scatter (contract in grace/cuda/permute.h). The
// pairs are cut into copy tiles of whole tokens (about 256, one CTA each), and groups of
// TiledOptions::hist_group (default 4) copy tiles form the histogram tiles. Two launches do
// everything:
//   1. tile_hist_kernel: one pass over the keys, each histogram tile's bucket counts into
//      hist[b][histogram tile], and (groups up to 8) each copy tile's count of the earlier copy
//      tiles of its group into sub_before[copy tile][b] (a programmatic dependent launch too: it
//      starts while the kernel that wrote the keys finishes, and waits for it before reading them);
//   2. rank_scatter_kernel (a programmatic dependent launch: its blocks start during launch 1 (at
//      most 96 registers, so that two of them fit beside a launch-1 block on an SM), count their
//      own copy tile's keys per warp and rank every pair among its tile's pairs of the same
//      bucket before waiting for launch 1).
// Then, per bucket, the total and the count of earlier histogram tiles (each row of hist summed
// by a group of lanes, all of a block's loads in flight at once; plus sub_before), optionally
// the block's token rows prefetched into L2 (TiledOptions::prefetch_rows, off by default), a scan of the totals gives the bucket starts, and each
// pair's position is start + earlier tiles + its rank in the tile. The rank inside a warp's
// 32-pair chunk counts the lanes below with the same key (__match_any_sync), as in
// bucket_sort.cu, so the order is the same stable one (bucket, then pair index). The block then
// copies its tokens' rows: each row is read once and written to each kept pair's sorted position.
// Instead of iota + two radix passes + inverse + offsets + scatter (six launches at mid sizes).
// route_build_scatter computes the keys itself (the routing decision of cuda/route_device.cuh,
// in both launches: launch 2 routes its tile again instead of reading keys launch 1 wrote), so
// route + bucket + scatter is two launches instead of three; both launches first copy the
// layer's part of the routing table into shared memory (cp.async, while waiting for the kernel
// before), so the routing's chain of dependent table reads hits shared memory, not DRAM; for
// tar, with its decision per (source GPU, expert) worked out on the host (DeviceRoutingTable),
// so most pairs cost one shared-memory read (ninth round). Each thread loads all of its ids
// (up to 4) before waiting for the table copy.
// Histogram tiles of 4 copy tiles (seventh round): launch 2's blocks read a quarter of the
// histogram (16 KB instead of 66 KB each at 4,096 tokens). Measured, docs/gpu.md "Seventh round".
// (A single launch whose CTAs meet at a grid barrier after writing their histogram columns was
// built and measured 1-3 us slower at 4,096 tokens on the H200, and it needs every CTA resident
// at once; dropped, docs/gpu.md. In the seventh round launch 2 waiting on a column counter
// instead of launch 1's grid, and one launch whose first blocks in ticket order count the
// columns, measured no better than the grid wait; dropped.)
// Up to 8,192 pairs the one-CTA counting sort + scatter is used (faster there), and past ~1,024
// pairs per tile or 255 buckets the radix path.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/bucket_scatter_kernels.cuh"
#include "cuda/bucket_sort.h"
#include "cuda/cuda_check.h"
#include "cuda/route_device.cuh"
#include "grace/cuda/permute.h"

namespace grace::cuda {

using namespace bucket_scatter_detail;  // this file's kernels and constants

namespace {

template <class Keys>
void launch_tiled(Keys keys, const TileArgs& t, int table_bytes, Stream stream) {
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(unsigned(t.num_hist));
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = size_t(table_bytes);
  cfg.stream = static_cast<cudaStream_t>(stream);
  cfg.attrs = attr;
  cfg.numAttrs = pdl_supported() ? 1 : 0;
  GRACE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, tile_hist_kernel<Keys>, keys, t));
  GRACE_CUDA_CHECK_LAUNCH();
  cfg.gridDim = dim3(unsigned(t.num_tiles));
  GRACE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, rank_scatter_kernel<Keys>, keys, t));
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace

int64_t PairBuckets::tile_tokens(int64_t tokens) const {
  const int64_t target = tile_target_ > 0 ? tile_target_ : kTargetTiles;
  return std::max<int64_t>(4, (tokens + target - 1) / target);
}

bool PairBuckets::tiled_fits(int64_t tokens, int top_k, int num_buckets) const {
  // Small batches: the one-CTA counting sort + scatter measured faster (H200: route + permute at
  // 256 tokens 0.019 against 0.023 ms); very large ones or many buckets: the radix path.
  const int64_t n = tokens * top_k;
  return n > 0 && !counting_sort_fits(n, num_buckets) && num_buckets + 1 <= kMaxBuckets &&
         tile_tokens(tokens) * top_k <= kMaxTilePairs && n < INT32_MAX;
}

int32_t* PairBuckets::prepare_tiled(int64_t tokens, int top_k, int num_buckets, int* num_hist, int* stride) {
  const int64_t n = tokens * top_k;
  num_pairs_ = n;
  num_buckets_ = num_buckets;
  const int64_t tt = tile_tokens(tokens);
  const int num_tiles = int((tokens + tt - 1) / tt);
  const int group = opts_.hist_group > 0 ? opts_.hist_group : kDefaultHistGroup;
  *num_hist = (num_tiles + group - 1) / group;
  *stride = (*num_hist + 3) & ~3;
  order_.resize(n + 1);
  position_.resize(n + 1);
  offsets_.resize(num_buckets + 1);
  hist_.resize(size_t(num_buckets + 1) * size_t(*stride));
  return hist_.get();
}

// launch 1's per-copy-tile counts where TiledOptions::sub_counts applies (else null).
int32_t* PairBuckets::sub_before(int64_t tokens, int num_buckets) {
  const int group = opts_.hist_group > 0 ? opts_.hist_group : kDefaultHistGroup;
  if (!opts_.sub_counts || group < 2 || group > kMaxSubCounted) return nullptr;
  const int64_t tt = tile_tokens(tokens);
  sub_before_.resize(size_t((tokens + tt - 1) / tt) * size_t(num_buckets + 1));
  return sub_before_.get();
}

namespace {

TileArgs make_tile_args(int64_t tokens, int top_k, int num_buckets, int64_t tile_tokens, int group, int num_hist,
                        int stride, int32_t* hist, int32_t* order, int32_t* position, int32_t* offsets,
                        const bf16_t* x, int64_t hidden, bf16_t* dst, unsigned long long* stamps,
                        bool prefetch_rows) {
  TileArgs t;
  t.prefetch_rows = prefetch_rows;
  t.tokens = tokens;
  t.k = top_k;
  t.tile_tokens = int(tile_tokens);
  t.num_buckets = num_buckets;
  t.num_tiles = int((tokens + tile_tokens - 1) / tile_tokens);
  t.group = group;
  t.num_hist = num_hist;
  t.hist_stride = stride;
  int lanes = 1;
  while (lanes < 32 && lanes < stride / 4) lanes *= 2;
  t.row_lanes = lanes;
  t.hist = hist;
  t.order = order;
  t.position = position;
  t.offsets = offsets;
  t.x = reinterpret_cast<const uint4*>(x);
  t.vpr = int(hidden / 8);
  t.dst = reinterpret_cast<uint4*>(dst);
  t.stamps = stamps;
  return t;
}

}  // namespace

void PairBuckets::build_scatter(const int32_t* keys, int64_t tokens, int top_k, int num_buckets,
                                const bf16_t* x, int64_t hidden, bf16_t* dst, Stream stream) {
  GRACE_CUDA_REQUIRE(tokens >= 0 && top_k > 0 && num_buckets > 0 && hidden % 8 == 0,
                     "bad bucket + scatter (tokens, top_k, buckets or hidden size out of range)");
  if (!tiled_fits(tokens, top_k, num_buckets)) {
    build(keys, tokens * top_k, num_buckets, stream);
    if (dst) scatter_rows_after_build(x, position(), offsets() + num_buckets, tokens, top_k, hidden, dst, stream);
    return;
  }
  int num_hist = 0, stride = 0;
  int32_t* hist = prepare_tiled(tokens, top_k, num_buckets, &num_hist, &stride);
  const int group = opts_.hist_group > 0 ? opts_.hist_group : kDefaultHistGroup;
  TileArgs t =
      make_tile_args(tokens, top_k, num_buckets, tile_tokens(tokens), group, num_hist, stride, hist, order_.get(),
                     position_.get(), offsets_.get(), x, hidden, dst, opts_.stamps, opts_.prefetch_rows);
  t.sub_before = sub_before(tokens, num_buckets);
  launch_tiled(ArrayKeys{keys}, t, 0, stream);
}

void PairBuckets::route_build_scatter(const DeviceRoutingTable& table, DeviceRouter router, uint64_t seed,
                                      const DeviceRouteBatch& b, int32_t* dest_gpu, int32_t* flat_slot,
                                      const bf16_t* x, int64_t hidden, bf16_t* dst, Stream stream) {
  GRACE_CUDA_REQUIRE(b.top_k > 0 && b.num_tokens >= 0 && b.ids && hidden % 8 == 0, "bad device route batch");
  const int num_buckets = table.num_slots(b.layer);
  const int64_t tokens = b.num_tokens, n = tokens * b.top_k;
  if (!tiled_fits(tokens, b.top_k, num_buckets)) {  // router kernel, then bucket + scatter
    int32_t* keys = flat_slot;
    if (!keys) {
      route_keys_.resize(n + 1);
      keys = route_keys_.get();
    }
    route_on_device(table, router, seed, b, dest_gpu, keys, stream);
    build_scatter(keys, tokens, b.top_k, num_buckets, x, hidden, dst, stream);
    return;
  }
  int num_hist = 0, stride = 0;
  int32_t* hist = prepare_tiled(tokens, b.top_k, num_buckets, &num_hist, &stride);
  const int group = opts_.hist_group > 0 ? opts_.hist_group : kDefaultHistGroup;
  TileArgs t = make_tile_args(tokens, b.top_k, num_buckets, tile_tokens(tokens), group, num_hist, stride, hist,
                              order_.get(), position_.get(), offsets_.get(), x, hidden, dst, opts_.stamps,
                              opts_.prefetch_rows);
  t.sub_before = sub_before(tokens, num_buckets);
  const DeviceRouteArgs a = make_route_args(table.view(), seed, b);
  const RoutingTableSlice& sl = table.slice(b.layer);
  // The layer's part of the table in shared memory where it fits (read there by both launches),
  // with tar's decisions for the batch's source GPUs where they fit too.
  const RoutingTableView& v = table.view();
  const int64_t words = shared_table_words(v, sl);
  const bool shared = opts_.shared_table && words <= kMaxTableWords;
  const DecisionRows dr = decision_rows(v, a);
  const int64_t dwords = words + int64_t(dr.rows) * v.num_experts;
  const bool decide = shared && router == DeviceRouter::kTar && opts_.decisions && dwords <= kMaxTableWords &&
                      dr.src0 >= 0 && dr.src0 + dr.rows <= v.num_gpus;
  const int bytes = int((decide ? dwords : shared ? words : 0) * 4);
  if (router == DeviceRouter::kTar) {
    if (decide) launch_tiled(RoutedKeys<true, true, true>{a, sl, dest_gpu, flat_slot}, t, bytes, stream);
    else if (shared) launch_tiled(RoutedKeys<true, true>{a, sl, dest_gpu, flat_slot}, t, bytes, stream);
    else launch_tiled(RoutedKeys<true, false>{a, sl, dest_gpu, flat_slot}, t, 0, stream);
  } else {
    if (shared) launch_tiled(RoutedKeys<false, true>{a, sl, dest_gpu, flat_slot}, t, bytes, stream);
    else launch_tiled(RoutedKeys<false, false>{a, sl, dest_gpu, flat_slot}, t, 0, stream);
  }
}

}  // namespace grace::cuda
