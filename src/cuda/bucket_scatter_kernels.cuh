// The kernels of the tiled bucket + scatter (bucket_scatter.cu, which describes the method):
// tile_hist_kernel (launch 1), rank_scatter_kernel (launch 2) and their arguments (the sources
// of pair keys: bucket_scatter_keys.cuh). Internal header, included by bucket_scatter.cu only.
#ifndef GRACE_SRC_CUDA_BUCKET_SCATTER_KERNELS_CUH_
#define GRACE_SRC_CUDA_BUCKET_SCATTER_KERNELS_CUH_

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/bucket_scatter_keys.cuh"
#include "cuda/route_device.cuh"

namespace grace::cuda::bucket_scatter_detail {

constexpr int kChunks = 4;                             // 32-pair chunks per warp and tile
constexpr int kMaxTilePairs = kWarps * 32 * kChunks;   // 1024
constexpr int kTargetTiles = 256;                      // about two blocks per SM on an H200
constexpr int kUnroll = 8;                             // 16-byte vectors in flight per lane and row
constexpr int kDefaultHistGroup = 4;                   // copy tiles per histogram tile
// Launch 2's registers per thread: two of its blocks and one of launch 1 (<= 48) fit in an SM's
// 64 K registers, so that all of launch 2's blocks start while launch 1 runs.
constexpr int kRankRegs = 96;
constexpr int kMaxSubCounted = 8;  // largest group whose copy tiles launch 1 counts apart
constexpr int64_t kMaxTableWords = 6144;               // routing table part in shared memory (24 KB)

// Everything both launches need, by value.
struct TileArgs {
  int64_t tokens = 0;
  int k = 0, tile_tokens = 0, num_buckets = 0, num_tiles = 0;
  int group = 1;        // copy tiles per histogram tile (launch 1 counts whole groups)
  int num_hist = 0;     // histogram tiles = launch 1's blocks
  int hist_stride = 0;  // num_hist rounded up to 4
  int row_lanes = 32;   // lanes per histogram row in launch 2's sums (a power of two <= 32)
  bool prefetch_rows = false;  // launch 2 prefetches its token rows into L2 after its sums
  int32_t* hist = nullptr;
  // Per copy tile, the pairs of the earlier copy tiles of its histogram tile per bucket
  // ([num_tiles][num_buckets + 1], written by launch 1; null: launch 2 counts them itself).
  int32_t* sub_before = nullptr;
  int32_t* order = nullptr;
  int32_t* position = nullptr;
  int32_t* offsets = nullptr;
  const uint4* x = nullptr;
  int vpr = 0;
  uint4* dst = nullptr;
  unsigned long long* stamps = nullptr;  // a timeline for the benchmark (null: none)
};

__device__ __forceinline__ void stamp(const TileArgs& t, int64_t i) {
  if (t.stamps && threadIdx.x == 0) {
    unsigned long long v;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(v));
    t.stamps[i] = v;
  }
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

// Launch 1: histogram tile blockIdx.x (t.group copy tiles) counted per bucket into column
// blockIdx.x of hist; with t.sub_before, each copy tile counted apart, and each copy tile's
// earlier ones in the group written to its row of sub_before.
template <class Keys>
__global__ void __launch_bounds__(kThreads) tile_hist_kernel(Keys keys, TileArgs t) {
  extern __shared__ uint32_t table_smem[];
  __shared__ int32_t h[kMaxSubCounted * kMaxBuckets];
  keys.stage(table_smem);  // the table was written long before: copy it while waiting
  // A programmatic dependent launch itself: wait for the kernel that wrote the keys (the router)
  // or the ids, then let launch 2 start. Launch 2 reads keys / ids before its own wait, which is
  // safe from here on.
  wait_previous_grid();
  launch_dependents();
  stamp(t, 2 * int64_t(blockIdx.x));
  const int64_t n = t.tokens * t.k;
  const int64_t hp = int64_t(t.group) * t.tile_tokens * t.k;
  const int64_t p0 = int64_t(blockIdx.x) * hp;
  const int64_t p1 = min(n, p0 + hp);
  keys.prefetch(p0, p1);  // the ids' latency overlaps the table copy's
  const int nb = t.num_buckets + 1;
  const int subs = t.sub_before ? t.group : 1;
  for (int i = threadIdx.x; i < subs * kMaxBuckets; i += kThreads) h[i] = 0;
  typename Keys::In in[kBatch];
  load_batch<Keys>(keys, p0, p1, in);  // in flight while the table copy completes
  keys.ready();
  __syncthreads();
  count_pairs<Keys>(keys, p0, p1, t.num_buckets, in, h, t.sub_before ? t.tile_tokens * t.k : 0);
  __syncthreads();
  for (int b = threadIdx.x; b < nb; b += kThreads) {
    int32_t run = 0;
    for (int j = 0; j < subs; ++j) {
      const int64_t tile = int64_t(blockIdx.x) * t.group + j;
      if (j > 0 && tile < t.num_tiles) t.sub_before[tile * nb + b] = run;
      run += h[j * kMaxBuckets + b];
    }
    t.hist[int64_t(b) * t.hist_stride + blockIdx.x] = run;
  }
  stamp(t, 2 * int64_t(blockIdx.x) + 1);
}

template <class Keys>
__global__ void __maxnreg__(kRankRegs) rank_scatter_kernel(Keys keys, TileArgs t) {
  extern __shared__ uint32_t table_smem[];
  __shared__ int32_t cnt[kWarps][kMaxBuckets];
  __shared__ int32_t start[kMaxBuckets + 1];
  __shared__ int32_t before[kMaxBuckets];
  __shared__ int32_t pos_s[kMaxTilePairs];
  launch_dependents();  // the expert GEMM after it may be scheduled as this grid's CTAs finish
  keys.stage(table_smem);
  const int64_t st0 = 2 * int64_t(t.num_hist) + 5 * int64_t(blockIdx.x);
  stamp(t, st0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int nb = t.num_buckets + 1;
  const int k = t.k;
  const int tile = blockIdx.x;
  const int64_t t0 = int64_t(tile) * t.tile_tokens;
  const int tt = int(min(t.tokens - t0, int64_t(t.tile_tokens)));
  const uint4* x = t.x;
  const int vpr = t.vpr;
  const int64_t p0 = t0 * k;
  const int tp = tt * k;
  // The earlier copy tiles of this tile's histogram tile (launch 1 counted them together with
  // this one): [ph, p0), counted into before[].
  // (With t.sub_before, launch 1 counted them: none here.)
  const int64_t ph = t.sub_before ? p0 : int64_t(tile - tile % t.group) * t.tile_tokens * k;
  keys.prefetch(ph, p0 + tp);  // this tile's and before[]'s
  for (int i = threadIdx.x; i < kWarps * kMaxBuckets; i += kThreads) (&cnt[0][0])[i] = 0;
  for (int b = threadIdx.x; b < nb; b += kThreads) before[b] = 0;

  // This warp's pairs [lo, hi) of the tile, counted per bucket (keys only: before the wait).
  // Their inputs and the first batch of before[]'s are loaded while the table copy completes.
  const int span = (tp + kWarps - 1) / kWarps;
  const int lo = min(tp, warp * span), hi = min(tp, lo + span);
  typename Keys::In own[kChunks];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int q = lo + c * 32 + lane;
    if (q < hi) own[c] = keys.load(p0 + q);
  }
  typename Keys::In in[kBatch];
  load_batch<Keys>(keys, ph, p0, in);
  keys.ready();
  __syncthreads();
  int kb[kChunks];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int q = lo + c * 32 + lane;
    int32_t key = -1;
    if (q < hi) {
      int32_t g;
      key = keys.key(p0 + q, own[c], &g);
      keys.emit(p0 + q, key, g);
    }
    kb[c] = q < hi ? bucket_of(key, t.num_buckets) : -1;
  }
  // Each pair's rank among its warp's pairs of the same bucket (stable: chunk, then lane).
  int wl[kChunks];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const bool on = lo + c * 32 + lane < hi;
    const unsigned active = __ballot_sync(0xffffffffu, on);
    if (on) {
      const unsigned peers = __match_any_sync(active, kb[c]);
      wl[c] = cnt[warp][kb[c]] + __popc(peers & ((1u << lane) - 1u));
      __syncwarp(active);
      if (lane == __ffs(peers) - 1) cnt[warp][kb[c]] += __popc(peers);
    }
    __syncwarp();
  }
  count_pairs<Keys>(keys, ph, p0, t.num_buckets, in, before);
  __syncthreads();
  for (int b = threadIdx.x; b < nb; b += kThreads) {  // cnt[w][b]: the tile's pairs in b of warps < w
    int32_t run = 0;
    for (int w = 0; w < kWarps; ++w) {
      const int32_t c = cnt[w][b];
      cnt[w][b] = run;
      run += c;
    }
  }
  __syncthreads();
  stamp(t, st0 + 1);

  wait_previous_grid();  // hist is complete
  stamp(t, st0 + 2);
  // Per bucket: all histogram tiles' total and the earlier ones' count. A row of hist (one
  // bucket, hist_stride = num_hist rounded up to 4 entries; the padding is never read into a
  // sum) is summed by row_lanes lanes with 16-byte loads, 32 / row_lanes rows per warp and step,
  // kSteps steps' loads in flight at once.
  {
    constexpr int kSteps = 6;
    const int L = t.row_lanes, R = 32 / L, sub_row = lane / L, gl = lane % L;
    const int n4 = t.hist_stride / 4;
    const int hh = tile / t.group;
    const int32_t* hist = t.hist;
    const int32_t* sub = t.sub_before && tile % t.group ? t.sub_before + int64_t(tile) * nb : nullptr;
    for (int base = warp * R; base < nb; base += kWarps * R * kSteps) {
      int32_t tot[kSteps], bef[kSteps];
#pragma unroll
      for (int s = 0; s < kSteps; ++s) {
        const int b = base + s * kWarps * R + sub_row;
        tot[s] = 0;
        bef[s] = sub && gl == 0 && b < nb ? __ldcg(sub + b) : 0;  // this tile's earlier ones in the group
      }
      for (int i4 = gl; i4 < n4; i4 += L) {
        int4 v[kSteps];
#pragma unroll
        for (int s = 0; s < kSteps; ++s) {
          const int b = base + s * kWarps * R + sub_row;
          v[s] = b < nb ? __ldcg(reinterpret_cast<const int4*>(hist + int64_t(b) * t.hist_stride) + i4)
                        : make_int4(0, 0, 0, 0);
        }
        const int i = 4 * i4;
#pragma unroll
        for (int s = 0; s < kSteps; ++s) {
          const int32_t x0 = i < t.num_hist ? v[s].x : 0, x1 = i + 1 < t.num_hist ? v[s].y : 0,
                        x2 = i + 2 < t.num_hist ? v[s].z : 0, x3 = i + 3 < t.num_hist ? v[s].w : 0;
          tot[s] += x0 + x1 + x2 + x3;
          bef[s] += (i < hh ? x0 : 0) + (i + 1 < hh ? x1 : 0) + (i + 2 < hh ? x2 : 0) + (i + 3 < hh ? x3 : 0);
        }
      }
#pragma unroll
      for (int s = 0; s < kSteps; ++s) {
        for (int o = L / 2; o > 0; o >>= 1) {
          tot[s] += __shfl_xor_sync(0xffffffffu, tot[s], o);
          bef[s] += __shfl_xor_sync(0xffffffffu, bef[s], o);
        }
        const int b = base + s * kWarps * R + sub_row;
        if (gl == 0 && b < nb) {
          start[b + 1] = tot[s];
          before[b] += bef[s];
        }
      }
    }
  }
  // This tile's token rows into L2 (a hint only) after the sums, whose loads are back: the DRAM
  // reads overlap the scan and the rank. (Issued before the wait, as until the eighth round, they
  // queued ahead of launch 1's and this block's loads and held the wait back by ~2 us.)
  if (t.dst && t.prefetch_rows) prefetch_l2(x + t0 * vpr, int64_t(tt) * vpr * int64_t(sizeof(uint4)));
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
  if (tile == 0)
    for (int b = threadIdx.x; b < nb; b += kThreads) t.offsets[b] = start[b];

  // Rank: the bucket's start, the earlier tiles' pairs in it, the earlier warps' of this tile,
  // the pair's rank in its warp (all but the first two known before the wait).
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int q = lo + c * 32 + lane;
    if (q < hi) {
      const int key = kb[c];
      const int32_t pos = start[key] + before[key] + cnt[warp][key] + wl[c];
      t.position[p0 + q] = pos;
      t.order[pos] = int32_t(p0 + q);
      pos_s[q] = pos;
    }
  }
  __syncthreads();
  stamp(t, st0 + 3);

  // Scatter: warp w copies tokens w, w + 8, ... of the tile, two rows in flight (no dst: bucket only).
  uint4* dst = t.dst;
  if (!dst) return;
  const int32_t kept = start[t.num_buckets];
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
  stamp(t, st0 + 4);
}

// The two launches (the caller checked tiled_fits and filled t). table_bytes: the dynamic
// shared memory of a RoutedKeys<.., true> (0 otherwise).

}  // namespace grace::cuda::bucket_scatter_detail

#endif  // GRACE_SRC_CUDA_BUCKET_SCATTER_KERNELS_CUH_
