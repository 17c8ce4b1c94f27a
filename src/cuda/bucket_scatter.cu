// Tiled bucket + scatter: PairBuckets::build_scatter (contract in grace/cuda/permute.h). The
// pairs are cut into tiles of whole tokens (about 256 tiles, one CTA each) and two launches do
// everything:
//   1. tile_hist_kernel: one pass over the keys, each tile's bucket histogram into hist[b][tile]
//      (a programmatic dependent launch too: it starts while the kernel that wrote the keys
//      finishes, and waits for it before reading them);
//   2. rank_scatter_kernel (a programmatic dependent launch: its blocks start during
//      launch 1, prefetch their token rows into L2 and count their own tile's keys per warp
//      before waiting for it).
// Then, per bucket, the total and the count of earlier tiles (warps read hist's rows), a scan
// of the totals gives the bucket starts; every pair is ranked inside its warp's 32-pair chunk by
// the lanes below it with the same key (__match_any_sync), as in bucket_sort.cu, so the order is
// the same stable one (bucket, then pair index). The block then copies its tokens' rows: each
// row is read once and written to each kept pair's sorted position.
// Instead of iota + two radix passes + inverse + offsets + scatter (six launches at mid sizes).
// route_build_scatter computes the keys itself (the routing decision of cuda/route_device.cuh,
// in both launches: launch 2 routes its tile again instead of reading keys launch 1 wrote), so
// route + bucket + scatter is two launches instead of three.
// (A single launch whose CTAs meet at a grid barrier after writing their histogram columns was
// built and measured 1-3 us slower at 4,096 tokens on the H200, and it needs every CTA resident
// at once; dropped, docs/gpu.md.)
// Up to 8,192 pairs the one-CTA counting sort + scatter is used (faster there), and past ~1,024
// pairs per tile or 255 buckets the radix path.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/bucket_sort.h"
#include "cuda/cuda_check.h"
#include "cuda/route_device.cuh"
#include "grace/cuda/permute.h"

namespace grace::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxBuckets = 256;                       // num_buckets + 1 (the skipped bucket)
constexpr int kChunks = 4;                             // 32-pair chunks per warp and tile
constexpr int kMaxTilePairs = kWarps * 32 * kChunks;   // 1024
constexpr int kTargetTiles = 256;                      // about two blocks per SM on an H200
constexpr int kUnroll = 8;                             // 16-byte vectors in flight per lane and row

__device__ __forceinline__ int bucket_of(int32_t k, int num_buckets) {
  return (k < 0 || k > num_buckets) ? num_buckets : int(k);
}

// Where the pair keys come from: an array written before (build_scatter), or the routing
// decision computed here (route_build_scatter; launch 2 also writes the router's outputs).
struct ArrayKeys {
  const int32_t* keys;
  __device__ __forceinline__ int32_t operator()(int64_t p) const { return keys[p]; }
  __device__ __forceinline__ void emit(int64_t, int32_t) const {}
};
template <bool kTar>
struct RoutedKeys {
  DeviceRouteArgs a;
  int32_t* dest_gpu;   // may be null
  int32_t* flat_slot;  // may be null
  __device__ __forceinline__ int32_t operator()(int64_t p) const {
    int32_t g;
    return route_pair<kTar>(a, p, &g);
  }
  // Launch 2 writes dest_gpu / flat_slot (routing again for dest_gpu: cheap, table in cache).
  __device__ __forceinline__ void emit(int64_t p, int32_t slot) const {
    if (flat_slot) flat_slot[p] = slot;
    if (dest_gpu) {
      int32_t g;
      route_pair<kTar>(a, p, &g);
      dest_gpu[p] = g;
    }
  }
};

__device__ __forceinline__ void launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void wait_previous_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

template <class Keys>
__global__ void __launch_bounds__(kThreads)
    tile_hist_kernel(Keys keys, int64_t n, int tile_pairs, int num_buckets, int hist_stride,
                     int32_t* hist) {
  // A programmatic dependent launch itself: wait for the kernel that wrote the keys (the router)
  // or the ids, then let launch 2 start. Launch 2 reads keys / ids before its own wait, which is
  // safe from here on.
  wait_previous_grid();
  launch_dependents();
  __shared__ int32_t h[kMaxBuckets];
  const int nb = num_buckets + 1;
  for (int b = threadIdx.x; b < nb; b += kThreads) h[b] = 0;
  __syncthreads();
  const int64_t p0 = int64_t(blockIdx.x) * tile_pairs;
  const int64_t p1 = min(n, p0 + tile_pairs);
  for (int64_t p = p0 + threadIdx.x; p < p1; p += kThreads) atomicAdd(&h[bucket_of(keys(p), num_buckets)], 1);
  __syncthreads();
  for (int b = threadIdx.x; b < nb; b += kThreads) hist[int64_t(b) * hist_stride + blockIdx.x] = h[b];
}

__device__ __forceinline__ int32_t warp_sum(int32_t v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <class Keys>
__global__ void __launch_bounds__(kThreads, 2)
    rank_scatter_kernel(Keys keys, int64_t tokens, int k, int tile_tokens, int num_buckets,
                        int num_tiles, int hist_stride, const int32_t* hist, int32_t* order, int32_t* position,
                        int32_t* offsets, const uint4* x, int vpr, uint4* dst) {
  __shared__ int32_t cnt[kWarps][kMaxBuckets];
  __shared__ int32_t start[kMaxBuckets + 1];
  __shared__ int32_t before[kMaxBuckets];
  __shared__ int32_t pos_s[kMaxTilePairs];
  launch_dependents();  // the expert GEMM after it may be scheduled as this grid's CTAs finish
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int nb = num_buckets + 1;
  const int tile = blockIdx.x;
  const int64_t t0 = int64_t(tile) * tile_tokens;
  const int tt = int(min(tokens - t0, int64_t(tile_tokens)));
  if (dst) {  // This tile's token rows into L2 while the keys are counted and the histogram is summed (a
     // hint only: L2 is coherent, so a line prefetched before its writer finished is not stale).
    const char* rows = reinterpret_cast<const char*>(x + t0 * vpr);
    const int64_t lines = (int64_t(tt) * vpr * 16 + 127) / 128;
    for (int64_t l = threadIdx.x; l < lines; l += kThreads)
      asm volatile("prefetch.global.L2 [%0];" ::"l"(rows + l * 128));
  }
  const int64_t p0 = t0 * k;
  const int tp = tt * k;
  for (int i = threadIdx.x; i < kWarps * kMaxBuckets; i += kThreads) (&cnt[0][0])[i] = 0;
  __syncthreads();

  // This warp's pairs [lo, hi) of the tile, counted per bucket (keys only: before the wait).
  const int span = (tp + kWarps - 1) / kWarps;
  const int lo = min(tp, warp * span), hi = min(tp, lo + span);
  int kb[kChunks];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int q = lo + c * 32 + lane;
    int32_t key = -1;
    if (q < hi) {
      key = keys(p0 + q);
      keys.emit(p0 + q, key);
    }
    kb[c] = q < hi ? bucket_of(key, num_buckets) : -1;
  }
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const bool on = lo + c * 32 + lane < hi;
    const unsigned active = __ballot_sync(0xffffffffu, on);
    if (on) {
      const unsigned peers = __match_any_sync(active, kb[c]);
      if (lane == __ffs(peers) - 1) cnt[warp][kb[c]] += __popc(peers);
    }
    __syncwarp();
  }

  wait_previous_grid();  // hist is complete
  // Per bucket: all tiles' total and the earlier tiles' count. Warp w reads rows w, w + 8, ...,
  // kRowBatch rows at a time with 16-byte loads (rows are hist_stride = num_tiles rounded up to
  // 4 apart; the padding is never read into a sum), all of a batch's loads in flight at once.
  {
    constexpr int kRowBatch = 6;
    const int n4 = hist_stride / 4;
    for (int b0 = warp; b0 < nb; b0 += kWarps * kRowBatch) {
      int32_t tot[kRowBatch], bef[kRowBatch];
#pragma unroll
      for (int r = 0; r < kRowBatch; ++r) tot[r] = bef[r] = 0;
      for (int i4 = lane; i4 < n4; i4 += 32) {
        int4 v[kRowBatch];
#pragma unroll
        for (int r = 0; r < kRowBatch; ++r) {
          const int b = b0 + r * kWarps;
          v[r] = b < nb ? __ldcg(reinterpret_cast<const int4*>(hist + int64_t(b) * hist_stride) + i4) : make_int4(0, 0, 0, 0);
        }
        const int i = 4 * i4;
#pragma unroll
        for (int r = 0; r < kRowBatch; ++r) {
          const int32_t x0 = i < num_tiles ? v[r].x : 0, x1 = i + 1 < num_tiles ? v[r].y : 0,
                        x2 = i + 2 < num_tiles ? v[r].z : 0, x3 = i + 3 < num_tiles ? v[r].w : 0;
          tot[r] += x0 + x1 + x2 + x3;
          bef[r] += (i < tile ? x0 : 0) + (i + 1 < tile ? x1 : 0) + (i + 2 < tile ? x2 : 0) + (i + 3 < tile ? x3 : 0);
        }
      }
#pragma unroll
      for (int r = 0; r < kRowBatch; ++r) {
        const int b = b0 + r * kWarps;
        const int32_t t = warp_sum(tot[r]), e = warp_sum(bef[r]);
        if (lane == 0 && b < nb) {
          start[b + 1] = t;
          before[b] = e;
        }
      }
    }
  }
  __syncthreads();
  if (warp == 0) {  // start[b] = pairs in buckets < b
    int32_t carry = 0;
    for (int base = 0; base < nb; base += 32) {
      const int b = base + lane;
      int32_t v = b < nb ? start[b + 1] : 0;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const int32_t u = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o) v += u;
      }
      if (b < nb) start[b + 1] = carry + v;
      carry += __shfl_sync(0xffffffffu, v, 31);
    }
    if (lane == 0) start[0] = 0;
  }
  __syncthreads();
  for (int b = threadIdx.x; b < nb; b += kThreads) {
    int32_t run = start[b] + before[b];
    for (int w = 0; w < kWarps; ++w) {
      const int32_t c = cnt[w][b];
      cnt[w][b] = run;
      run += c;
    }
    if (tile == 0) offsets[b] = start[b];
  }
  __syncthreads();

  // Rank: stable inside the chunk (lanes below with the same key).
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int q = lo + c * 32 + lane;
    const bool on = q < hi;
    const unsigned active = __ballot_sync(0xffffffffu, on);
    if (on) {
      const int key = kb[c];
      const unsigned peers = __match_any_sync(active, key);
      const int32_t pos = cnt[warp][key] + __popc(peers & ((1u << lane) - 1u));
      position[p0 + q] = pos;
      order[pos] = int32_t(p0 + q);
      pos_s[q] = pos;
      __syncwarp(active);
      if (lane == __ffs(peers) - 1) cnt[warp][key] += __popc(peers);
    }
    __syncwarp();
  }
  __syncthreads();

  // Scatter: warp w copies tokens w, w + 8, ... of the tile, two rows in flight (no dst: bucket only).
  if (!dst) return;
  const int32_t kept = start[num_buckets];
  for (int lt = warp; lt < tt; lt += 2 * kWarps) {
    const bool two = lt + kWarps < tt;
    const uint4* s0 = x + (t0 + lt) * vpr;
    const uint4* s1 = x + (t0 + lt + (two ? kWarps : 0)) * vpr;
    for (int base = 0; base < vpr; base += 32 * kUnroll) {
      uint4 v0[kUnroll], v1[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int c = base + u * 32 + lane;
        if (c < vpr) {
          v0[u] = s0[c];
          if (two) v1[u] = s1[c];
        }
      }
      for (int j = 0; j < k; ++j) {
        const int32_t p = pos_s[lt * k + j];
        if (p < kept) {
          uint4* d = dst + int64_t(p) * vpr;
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) {
            const int c = base + u * 32 + lane;
            if (c < vpr) d[c] = v0[u];
          }
        }
        if (two) {
          const int32_t p1 = pos_s[(lt + kWarps) * k + j];
          if (p1 < kept) {
            uint4* d = dst + int64_t(p1) * vpr;
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) {
              const int c = base + u * 32 + lane;
              if (c < vpr) d[c] = v1[u];
            }
          }
        }
      }
    }
  }
}

// The two launches (the caller checked tiled_fits). hist is [num_buckets + 1][stride].
template <class Keys>
void launch_tiled(Keys keys, int64_t tokens, int top_k, int num_buckets, int64_t tile_tokens, int32_t* hist,
                  int stride, int32_t* order, int32_t* position, int32_t* offsets, const bf16_t* x,
                  int64_t hidden, bf16_t* dst, Stream stream) {
  const int64_t n = tokens * top_k;
  const int num_tiles = int((tokens + tile_tokens - 1) / tile_tokens);
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(unsigned(num_tiles));
  cfg.blockDim = dim3(kThreads);
  cfg.stream = static_cast<cudaStream_t>(stream);
  cfg.attrs = attr;
  cfg.numAttrs = pdl_supported() ? 1 : 0;
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  uint4* dv = reinterpret_cast<uint4*>(dst);
  GRACE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, tile_hist_kernel<Keys>, keys, n, int(tile_tokens * top_k), num_buckets,
                                      stride, hist));
  GRACE_CUDA_CHECK_LAUNCH();
  GRACE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, rank_scatter_kernel<Keys>, keys, tokens, top_k, int(tile_tokens),
                                      num_buckets, num_tiles, stride, static_cast<const int32_t*>(hist), order,
                                      position, offsets, xv, int(hidden / 8), dv));
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

int32_t* PairBuckets::prepare_tiled(int64_t tokens, int top_k, int num_buckets, int* stride) {
  const int64_t n = tokens * top_k;
  num_pairs_ = n;
  num_buckets_ = num_buckets;
  const int64_t tt = tile_tokens(tokens);
  const int num_tiles = int((tokens + tt - 1) / tt);
  *stride = (num_tiles + 3) & ~3;
  order_.resize(n + 1);
  position_.resize(n + 1);
  offsets_.resize(num_buckets + 1);
  hist_.resize(size_t(num_buckets + 1) * size_t(*stride));
  return hist_.get();
}

void PairBuckets::build_scatter(const int32_t* keys, int64_t tokens, int top_k, int num_buckets,
                                const bf16_t* x, int64_t hidden, bf16_t* dst, Stream stream) {
  GRACE_CUDA_REQUIRE(tokens >= 0 && top_k > 0 && num_buckets > 0 && hidden % 8 == 0,
                     "bad bucket + scatter (tokens, top_k, buckets or hidden size out of range)");
  if (!tiled_fits(tokens, top_k, num_buckets)) {
    build(keys, tokens * top_k, num_buckets, stream);
    if (dst) scatter_rows_after_build(x, position(), offsets() + num_buckets, tokens, top_k, hidden, dst, stream);
    return;
  }
  int stride = 0;
  int32_t* hist = prepare_tiled(tokens, top_k, num_buckets, &stride);
  launch_tiled(ArrayKeys{keys}, tokens, top_k, num_buckets, tile_tokens(tokens), hist, stride, order_.get(), position_.get(), offsets_.get(), x, hidden, dst, stream);
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
  int stride = 0;
  int32_t* hist = prepare_tiled(tokens, b.top_k, num_buckets, &stride);
  const DeviceRouteArgs a = make_route_args(table.view(), seed, b);
  if (router == DeviceRouter::kTar)
    launch_tiled(RoutedKeys<true>{a, dest_gpu, flat_slot}, tokens, b.top_k, num_buckets, tile_tokens(tokens), hist,
                 stride, order_.get(), position_.get(), offsets_.get(), x, hidden, dst, stream);
  else
    launch_tiled(RoutedKeys<false>{a, dest_gpu, flat_slot}, tokens, b.top_k, num_buckets, tile_tokens(tokens),
                 hist, stride, order_.get(), position_.get(), offsets_.get(), x, hidden, dst, stream);
}

}  // namespace grace::cuda
