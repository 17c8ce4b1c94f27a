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
constexpr int kDefaultHistGroup = 4;                   // copy tiles per histogram tile
constexpr int64_t kMaxTableWords = 6144;               // routing table part in shared memory (24 KB)

__device__ __forceinline__ int bucket_of(int32_t k, int num_buckets) {
  return (k < 0 || k > num_buckets) ? num_buckets : int(k);
}

// Everything both launches need, by value.
struct TileArgs {
  int64_t tokens = 0;
  int k = 0, tile_tokens = 0, num_buckets = 0, num_tiles = 0;
  int group = 1;        // copy tiles per histogram tile (launch 1 counts whole groups)
  int num_hist = 0;     // histogram tiles = launch 1's blocks
  int hist_stride = 0;  // num_hist rounded up to 4
  int row_lanes = 32;   // lanes per histogram row in launch 2's sums (a power of two <= 32)
  int32_t* hist = nullptr;
  unsigned* sync = nullptr;  // [3] counters: launch 2 waits for launch 1's count instead of its grid
  bool one = false;          // one launch: launch 1's work done by the first num_hist blocks (tickets)
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

// Where the pair keys come from: an array written before (build_scatter), or the routing
// decision computed here (route_build_scatter; launch 2 also writes the router's outputs),
// reading the table in device memory or a copy of the layer's part in shared memory.
struct ArrayKeys {
  const int32_t* keys;
  __device__ __forceinline__ void stage(uint32_t*) {}
  __device__ __forceinline__ void ready() const {}
  __device__ __forceinline__ int32_t key(int64_t p, int32_t*) const { return keys[p]; }
  __device__ __forceinline__ void emit(int64_t, int32_t, int32_t) const {}
};
template <bool kTar, bool kShared>
struct RoutedKeys {
  DeviceRouteArgs a;
  RoutingTableSlice slice;
  int32_t* dest_gpu;   // may be null
  int32_t* flat_slot;  // may be null
  SharedTable st{};
  __device__ __forceinline__ void stage(uint32_t* smem) {
    if constexpr (kShared) st = stage_layer_table(a.v, slice, a.layer, smem);
  }
  __device__ __forceinline__ void ready() const {
    if constexpr (kShared) cp_async_wait_all();
  }
  __device__ __forceinline__ int32_t key(int64_t p, int32_t* g) const {
    if constexpr (kShared) return route_pair_in<kTar>(st, a, p, g);
    else return route_pair<kTar>(a, p, g);
  }
  __device__ __forceinline__ void emit(int64_t p, int32_t slot, int32_t g) const {
    if (flat_slot) flat_slot[p] = slot;
    if (dest_gpu) dest_gpu[p] = g;
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

// Histogram tile hb's bucket counts into column hb of hist (h: num_buckets + 1 ints of shared
// scratch; the keys' table staged and ready in this thread), then, with the counters, counted as
// published (release: launch 2 acquires the count before reading the columns).
template <class Keys>
__device__ __forceinline__ void hist_column(const Keys& keys, const TileArgs& t, int hb, int32_t* h) {
  const int nb = t.num_buckets + 1;
  for (int b = threadIdx.x; b < nb; b += kThreads) h[b] = 0;
  __syncthreads();
  const int64_t n = t.tokens * t.k;
  const int64_t hp = int64_t(t.group) * t.tile_tokens * t.k;
  const int64_t p0 = int64_t(hb) * hp;
  const int64_t p1 = min(n, p0 + hp);
#pragma unroll 2
  for (int64_t p = p0 + threadIdx.x; p < p1; p += kThreads) {
    int32_t g;
    atomicAdd(&h[bucket_of(keys.key(p, &g), t.num_buckets)], 1);
  }
  __syncthreads();
  for (int b = threadIdx.x; b < nb; b += kThreads) t.hist[int64_t(b) * t.hist_stride + hb] = h[b];
  if (t.sync) {  // publish this column: launch 2 counts the columns instead of waiting for the grid
    __syncthreads();
    if (threadIdx.x == 0) {
      __threadfence();
      atomicAdd(t.sync, 1u);
    }
  }
}

template <class Keys>
__global__ void __launch_bounds__(kThreads) tile_hist_kernel(Keys keys, TileArgs t) {
  extern __shared__ uint32_t table_smem[];
  __shared__ int32_t h[kMaxBuckets];
  keys.stage(table_smem);  // the table was written long before: copy it while waiting
  // A programmatic dependent launch itself: wait for the kernel that wrote the keys (the router)
  // or the ids, then let launch 2 start. Launch 2 reads keys / ids before its own wait, which is
  // safe from here on.
  wait_previous_grid();
  launch_dependents();
  stamp(t, 2 * int64_t(blockIdx.x));
  keys.ready();
  hist_column(keys, t, blockIdx.x, h);
  stamp(t, 2 * int64_t(blockIdx.x) + 1);
}

template <class Keys>
__global__ void __launch_bounds__(kThreads, 2) rank_scatter_kernel(Keys keys, TileArgs t) {
  extern __shared__ uint32_t table_smem[];
  __shared__ int32_t cnt[kWarps][kMaxBuckets];
  __shared__ int32_t start[kMaxBuckets + 1];
  __shared__ int32_t before[kMaxBuckets];
  __shared__ int32_t pos_s[kMaxTilePairs];
  __shared__ int ticket_s;
  launch_dependents();  // the expert GEMM after it may be scheduled as this grid's CTAs finish
  keys.stage(table_smem);
  const int64_t st0 = 2 * int64_t(t.num_hist) + 5 * int64_t(blockIdx.x);
  stamp(t, st0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int nb = t.num_buckets + 1;
  const int k = t.k;
  // One launch (t.one): the tiles are taken in ticket order, and tickets below num_hist also do
  // launch 1's work first. Whoever holds a ticket is resident, so when a block waits for the
  // columns, every block that writes one is resident and waits for nothing: no deadlock. The
  // tickets are taken after the wait for the grid before (it may be the last call's, which
  // resets the counters at its end).
  int tile = blockIdx.x;
  if (t.one) {
    wait_previous_grid();  // the keys' writer is done from here on
    if (threadIdx.x == 0) ticket_s = int(atomicAdd(t.sync + 2, 1u));
    __syncthreads();
    tile = ticket_s;
  }
  const int64_t t0 = int64_t(tile) * t.tile_tokens;
  const int tt = int(min(t.tokens - t0, int64_t(t.tile_tokens)));
  const uint4* x = t.x;
  const int vpr = t.vpr;
  if (t.dst) {  // This tile's token rows into L2 while the keys are counted and the histogram is summed (a
     // hint only: L2 is coherent, so a line prefetched before its writer finished is not stale).
    const char* rows = reinterpret_cast<const char*>(x + t0 * vpr);
    const int64_t lines = (int64_t(tt) * vpr * 16 + 127) / 128;
    for (int64_t l = threadIdx.x; l < lines; l += kThreads)
      asm volatile("prefetch.global.L2 [%0];" ::"l"(rows + l * 128));
  }
  const int64_t p0 = t0 * k;
  const int tp = tt * k;
  for (int i = threadIdx.x; i < kWarps * kMaxBuckets; i += kThreads) (&cnt[0][0])[i] = 0;
  for (int b = threadIdx.x; b < nb; b += kThreads) before[b] = 0;
  keys.ready();
  __syncthreads();
  if (t.one && tile < t.num_hist) hist_column(keys, t, tile, start);  // launch 1's work; start: scratch until the sums

  // This warp's pairs [lo, hi) of the tile, counted per bucket (keys only: before the wait).
  const int span = (tp + kWarps - 1) / kWarps;
  const int lo = min(tp, warp * span), hi = min(tp, lo + span);
  int kb[kChunks];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    const int q = lo + c * 32 + lane;
    int32_t key = -1;
    if (q < hi) {
      int32_t g;
      key = keys.key(p0 + q, &g);
      keys.emit(p0 + q, key, g);
    }
    kb[c] = q < hi ? bucket_of(key, t.num_buckets) : -1;
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
  // The pairs of the earlier copy tiles of this tile's histogram tile (launch 1 counted them
  // together with this one's): counted into before[].
  {
    const int64_t ph = int64_t(tile - tile % t.group) * t.tile_tokens * k;
    for (int64_t p = ph + threadIdx.x; p < p0; p += kThreads) {
      int32_t g;
      atomicAdd(&before[bucket_of(keys.key(p, &g), t.num_buckets)], 1);
    }
  }
  __syncthreads();
  stamp(t, st0 + 1);

  if (t.sync) {  // launch 1's columns are all written once its counter reaches num_hist
    if (threadIdx.x == 0) {
      unsigned v;
      do {
        asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(t.sync) : "memory");
      } while (v < unsigned(t.num_hist));
      if (atomicAdd(t.sync + 1, 1u) == gridDim.x - 1) {  // the last block past the wait resets them
        atomicExch(t.sync, 0u);
        atomicExch(t.sync + 1, 0u);
        atomicExch(t.sync + 2, 0u);
      }
    }
    __syncthreads();
  } else {
    wait_previous_grid();  // hist is complete
  }
  stamp(t, st0 + 2);
  // Per bucket: all histogram tiles' total and the earlier ones' count. A row of hist (one
  // bucket, hist_stride = num_hist rounded up to 4 entries; the padding is never read into a
  // sum) is summed by row_lanes lanes with 16-byte loads, 32 / row_lanes rows per warp and step,
  // kSteps steps' loads in flight at once.
  {
    constexpr int kSteps = 6;
    const int L = t.row_lanes, R = 32 / L, sub = lane / L, gl = lane % L;
    const int n4 = t.hist_stride / 4;
    const int hh = tile / t.group;
    const int32_t* hist = t.hist;
    for (int base = warp * R; base < nb; base += kWarps * R * kSteps) {
      int32_t tot[kSteps], bef[kSteps];
#pragma unroll
      for (int s = 0; s < kSteps; ++s) tot[s] = bef[s] = 0;
      for (int i4 = gl; i4 < n4; i4 += L) {
        int4 v[kSteps];
#pragma unroll
        for (int s = 0; s < kSteps; ++s) {
          const int b = base + s * kWarps * R + sub;
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
        const int b = base + s * kWarps * R + sub;
        if (gl == 0 && b < nb) {
          start[b + 1] = tot[s];
          before[b] += bef[s];
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
    if (tile == 0) t.offsets[b] = start[b];
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
      t.position[p0 + q] = pos;
      t.order[pos] = int32_t(p0 + q);
      pos_s[q] = pos;
      __syncwarp(active);
      if (lane == __ffs(peers) - 1) cnt[warp][key] += __popc(peers);
    }
    __syncwarp();
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
  if (!t.one) {
    GRACE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, tile_hist_kernel<Keys>, keys, t));
    GRACE_CUDA_CHECK_LAUNCH();
  }
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

int32_t* PairBuckets::prepare_tiled(int64_t tokens, int top_k, int num_buckets, int* num_hist, int* stride,
                                    unsigned** sync, Stream stream) {
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
  *sync = nullptr;
  if (opts_.count_sync || opts_.one_launch) {
    if (sync_.size() < 3) {  // zero once; the kernels leave the counters at zero
      sync_.resize(3);
      GRACE_CUDA_CHECK(cudaMemsetAsync(sync_.get(), 0, 3 * sizeof(unsigned), static_cast<cudaStream_t>(stream)));
    }
    *sync = sync_.get();
  }
  return hist_.get();
}

namespace {

TileArgs make_tile_args(int64_t tokens, int top_k, int num_buckets, int64_t tile_tokens, int group, int num_hist,
                        int stride, int32_t* hist, unsigned* sync, int32_t* order, int32_t* position,
                        int32_t* offsets, const bf16_t* x, int64_t hidden, bf16_t* dst,
                        unsigned long long* stamps, bool one) {
  TileArgs t;
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
  t.sync = sync;
  t.order = order;
  t.position = position;
  t.offsets = offsets;
  t.x = reinterpret_cast<const uint4*>(x);
  t.vpr = int(hidden / 8);
  t.dst = reinterpret_cast<uint4*>(dst);
  t.stamps = stamps;
  t.one = one;
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
  unsigned* sync = nullptr;
  int32_t* hist = prepare_tiled(tokens, top_k, num_buckets, &num_hist, &stride, &sync, stream);
  const int group = opts_.hist_group > 0 ? opts_.hist_group : kDefaultHistGroup;
  launch_tiled(ArrayKeys{keys},
               make_tile_args(tokens, top_k, num_buckets, tile_tokens(tokens), group, num_hist, stride, hist, sync,
                              order_.get(), position_.get(), offsets_.get(), x, hidden, dst, opts_.stamps,
                              opts_.one_launch),
               0, stream);
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
  unsigned* sync = nullptr;
  int32_t* hist = prepare_tiled(tokens, b.top_k, num_buckets, &num_hist, &stride, &sync, stream);
  const int group = opts_.hist_group > 0 ? opts_.hist_group : kDefaultHistGroup;
  const TileArgs t = make_tile_args(tokens, b.top_k, num_buckets, tile_tokens(tokens), group, num_hist, stride, hist,
                                    sync, order_.get(), position_.get(), offsets_.get(), x, hidden, dst, opts_.stamps,
                                    opts_.one_launch);
  const DeviceRouteArgs a = make_route_args(table.view(), seed, b);
  const RoutingTableSlice& sl = table.slice(b.layer);
  // The layer's part of the table in shared memory where it fits (read there by both launches).
  const int64_t words = shared_table_words(table.view(), sl);
  const bool shared = opts_.shared_table && words <= kMaxTableWords;
  const int bytes = shared ? int(words * 4) : 0;
  if (router == DeviceRouter::kTar) {
    if (shared) launch_tiled(RoutedKeys<true, true>{a, sl, dest_gpu, flat_slot}, t, bytes, stream);
    else launch_tiled(RoutedKeys<true, false>{a, sl, dest_gpu, flat_slot}, t, 0, stream);
  } else {
    if (shared) launch_tiled(RoutedKeys<false, true>{a, sl, dest_gpu, flat_slot}, t, bytes, stream);
    else launch_tiled(RoutedKeys<false, false>{a, sl, dest_gpu, flat_slot}, t, 0, stream);
  }
}

}  // namespace grace::cuda
