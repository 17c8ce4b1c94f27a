// Tiled bucket + scatter: PairBuckets::build_scatter (contract in grace/cuda/permute.h). The
// pairs are cut into tiles of whole tokens (about 256 tiles), and two launches do everything:
//   1. tile_hist_kernel: one pass over the keys, each tile's bucket histogram into hist[b][tile]
//      (a programmatic dependent launch too: it starts while the router that wrote the keys
//      finishes, and waits for it before reading them);
//   2. rank_scatter_kernel (a programmatic dependent launch: its blocks start during launch 1
//      and count their own tile's keys per warp before waiting for it): per bucket, the total
//      and the count of earlier tiles (warps read hist's rows), a scan of the totals gives the
//      bucket starts; every pair is ranked inside its warp's 32-pair chunk by the lanes below it
//      with the same key (__match_any_sync), as in bucket_sort.cu, so the order is the same
//      stable one (bucket, then pair index). The block then copies its tokens' rows: each row
//      is read once and written to each kept pair's sorted position.
// Instead of iota + two radix passes + inverse + offsets + scatter (six launches at mid sizes).
// Up to 8,192 pairs the one-CTA counting sort + scatter is used (faster there), and past ~1,024
// pairs per tile or 255 buckets the radix path.
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/bucket_sort.h"
#include "cuda/cuda_check.h"
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

__global__ void __launch_bounds__(kThreads)
    tile_hist_kernel(const int32_t* keys, int64_t n, int tile_pairs, int num_buckets, int num_tiles,
                     int32_t* hist) {
  // A programmatic dependent launch itself: wait for the kernel that wrote the keys (the router),
  // then let launch 2 start. Launch 2 reads keys before its own wait, which is safe from here on.
  wait_previous_grid();
  launch_dependents();
  __shared__ int32_t h[kMaxBuckets];
  const int nb = num_buckets + 1;
  for (int b = threadIdx.x; b < nb; b += kThreads) h[b] = 0;
  __syncthreads();
  const int64_t p0 = int64_t(blockIdx.x) * tile_pairs;
  const int64_t p1 = min(n, p0 + tile_pairs);
  for (int64_t p = p0 + threadIdx.x; p < p1; p += kThreads) atomicAdd(&h[bucket_of(keys[p], num_buckets)], 1);
  __syncthreads();
  for (int b = threadIdx.x; b < nb; b += kThreads) hist[int64_t(b) * num_tiles + blockIdx.x] = h[b];
}

__device__ __forceinline__ int32_t warp_sum(int32_t v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void __launch_bounds__(kThreads)
    rank_scatter_kernel(const int32_t* keys, int64_t tokens, int k, int tile_tokens, int num_buckets,
                        int num_tiles, const int32_t* hist, int32_t* order, int32_t* position,
                        int32_t* offsets, const uint4* x, int vpr, uint4* dst) {
  __shared__ int32_t cnt[kWarps][kMaxBuckets];
  __shared__ int32_t start[kMaxBuckets + 1];
  __shared__ int32_t before[kMaxBuckets];
  __shared__ int32_t pos_s[kMaxTilePairs];
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int nb = num_buckets + 1;
  const int tile = blockIdx.x;
  const int64_t t0 = int64_t(tile) * tile_tokens;
  const int tt = int(min(tokens - t0, int64_t(tile_tokens)));
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
    kb[c] = q < hi ? bucket_of(keys[p0 + q], num_buckets) : -1;
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
  // Per bucket: all tiles' total and the earlier tiles' count (warp w reads rows w, w + 8, ...).
  for (int b = warp; b < nb; b += kWarps) {
    const int32_t* row = hist + int64_t(b) * num_tiles;
    int32_t tot = 0, bef = 0;
    for (int i = lane; i < num_tiles; i += 32) {
      const int32_t v = row[i];
      tot += v;
      bef += i < tile ? v : 0;
    }
    tot = warp_sum(tot);
    bef = warp_sum(bef);
    if (lane == 0) {
      start[b + 1] = tot;
      before[b] = bef;
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

  // Scatter: warp w copies tokens w, w + 8, ... of the tile, two rows in flight.
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

}  // namespace

void PairBuckets::build_scatter(const int32_t* keys, int64_t tokens, int top_k, int num_buckets,
                                const bf16_t* x, int64_t hidden, bf16_t* dst, Stream stream) {
  GRACE_CUDA_REQUIRE(tokens >= 0 && top_k > 0 && num_buckets > 0 && hidden % 8 == 0,
                     "bad bucket + scatter (tokens, top_k, buckets or hidden size out of range)");
  const int64_t n = tokens * top_k;
  const int64_t tile_tokens = std::max<int64_t>(4, (tokens + kTargetTiles - 1) / kTargetTiles);
  // Small batches: the one-CTA counting sort + scatter measured faster (H200: route + permute at
  // 256 tokens 0.019 against 0.023 ms); very large ones or many buckets: the radix path.
  if (n == 0 || counting_sort_fits(n, num_buckets) || num_buckets + 1 > kMaxBuckets ||
      tile_tokens * top_k > kMaxTilePairs) {
    build(keys, n, num_buckets, stream);
    scatter_rows_after_build(x, position(), offsets() + num_buckets, tokens, top_k, hidden, dst, stream);
    return;
  }
  GRACE_CUDA_REQUIRE(n < INT32_MAX, "bad bucket build (pairs out of range)");
  num_pairs_ = n;
  num_buckets_ = num_buckets;
  const int num_tiles = int((tokens + tile_tokens - 1) / tile_tokens);
  order_.resize(n + 1);
  position_.resize(n + 1);
  offsets_.resize(num_buckets + 1);
  hist_.resize(size_t(num_buckets + 1) * num_tiles);
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t hcfg{};
  hcfg.gridDim = dim3(unsigned(num_tiles));
  hcfg.blockDim = dim3(kThreads);
  hcfg.stream = static_cast<cudaStream_t>(stream);
  hcfg.attrs = attr;
  hcfg.numAttrs = pdl_supported() ? 1 : 0;
  GRACE_CUDA_CHECK(cudaLaunchKernelEx(&hcfg, tile_hist_kernel, keys, n, int(tile_tokens * top_k), num_buckets,
                                      num_tiles, hist_.get()));
  GRACE_CUDA_CHECK_LAUNCH();
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(unsigned(num_tiles));
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = static_cast<cudaStream_t>(stream);
  cfg.attrs = attr;
  cfg.numAttrs = pdl_supported() ? 1 : 0;
  GRACE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, rank_scatter_kernel, keys, tokens, top_k, int(tile_tokens), num_buckets,
                                      num_tiles, static_cast<const int32_t*>(hist_.get()), order_.get(),
                                      position_.get(), offsets_.get(), reinterpret_cast<const uint4*>(x),
                                      int(hidden / 8), reinterpret_cast<uint4*>(dst)));
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
