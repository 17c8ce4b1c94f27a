// Where the tiled bucket + scatter's pair keys come from (bucket_scatter_kernels.cuh uses them):
// an array written before (ArrayKeys), or the routing decision computed in the kernels
// (RoutedKeys), and the batched count of a range of pairs (count_pairs). Internal header,
// included by bucket_scatter_kernels.cuh only.
#ifndef GRACE_SRC_CUDA_BUCKET_SCATTER_KEYS_CUH_
#define GRACE_SRC_CUDA_BUCKET_SCATTER_KEYS_CUH_

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/route_device.cuh"

namespace grace::cuda::bucket_scatter_detail {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kBatch = 4;          // pairs whose inputs a thread loads at once
constexpr int kMaxBuckets = 256;   // num_buckets + 1 (the skipped bucket)

__device__ __forceinline__ int bucket_of(int32_t k, int num_buckets) {
  return (k < 0 || k > num_buckets) ? num_buckets : int(k);
}

// The 128-byte lines of [p, p + bytes) into L2 (a hint: no data is read or waited for).
__device__ __forceinline__ void prefetch_l2(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  const int64_t first = reinterpret_cast<uintptr_t>(c) & 127;
  const int64_t lines = (first + bytes + 127) / 128;
  for (int64_t l = threadIdx.x; l < lines; l += blockDim.x)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(c - first + l * 128));
}

// Where the pair keys come from: an array written before (build_scatter), or the routing
// decision computed here (route_build_scatter; launch 2 also writes the router's outputs),
// reading the table in device memory or a copy of the layer's part in shared memory, there with
// tar's precomputed decisions (kDecide). A pair's inputs are loaded (load: its id, and its token's
// GPU where the decisions need it) apart from the decision (key), so that a thread's loads can
// be in flight together while the table copy completes.
struct ArrayKeys {
  const int32_t* keys;
  struct In {
    int32_t v;
  };
  __device__ __forceinline__ void stage(uint32_t*) {}
  __device__ __forceinline__ void ready() const {}
  __device__ __forceinline__ void prefetch(int64_t p0, int64_t p1) const {
    if (p1 > p0) prefetch_l2(keys + p0, (p1 - p0) * int64_t(sizeof(int32_t)));
  }
  __device__ __forceinline__ In load(int64_t p) const { return {keys[p]}; }
  __device__ __forceinline__ int32_t key(int64_t, In in, int32_t*) const { return in.v; }
  __device__ __forceinline__ void emit(int64_t, int32_t, int32_t) const {}
};
template <bool kTar, bool kShared, bool kDecide = false>
struct RoutedKeys {
  static_assert(!kDecide || (kTar && kShared), "tar's decisions are staged with the shared table");
  DeviceRouteArgs a;
  RoutingTableSlice slice;
  int32_t* dest_gpu;   // may be null
  int32_t* flat_slot;  // may be null
  SharedTable st{};
  struct In {
    int32_t e, src;
  };
  __device__ __forceinline__ void stage(uint32_t* smem) {
    if constexpr (kShared)
      st = stage_layer_table(a.v, slice, a.layer, smem, kDecide ? decision_rows(a.v, a) : DecisionRows{});
  }
  __device__ __forceinline__ void ready() const {
    if constexpr (kShared) cp_async_wait_all();
  }
  // The ids of pairs [p0, p1) on their way while the table copy completes.
  __device__ __forceinline__ void prefetch(int64_t p0, int64_t p1) const {
    if (p1 > p0) prefetch_l2(a.ids + p0, (p1 - p0) * int64_t(sizeof(int32_t)));
  }
  // (The tiled path has fewer than 2^31 pairs: 32-bit token index.)
  __device__ __forceinline__ In load(int64_t p) const {
    In in{a.ids[p], a.src_all};
    if constexpr (kDecide) {
      if (a.src_gpu) in.src = a.src_gpu[uint32_t(p) / uint32_t(a.k)];
    }
    return in;
  }
  __device__ __forceinline__ int32_t key(int64_t p, In in, int32_t* g) const {
    if constexpr (kDecide) return route_pair_decided(st, a, int64_t(uint32_t(p) / uint32_t(a.k)), in.e, in.src, g);
    else if constexpr (kShared) return route_pair_e<kTar>(st, a, p / a.k, in.e, g);
    else return route_pair_e<kTar>(GlobalTable{&a.v, a.layer}, a, p / a.k, in.e, g);
  }
  __device__ __forceinline__ void emit(int64_t p, int32_t slot, int32_t g) const {
    if (flat_slot) flat_slot[p] = slot;
    if (dest_gpu) dest_gpu[p] = g;
  }
};

// Counts the pairs [q0, q1) per bucket into h (shared memory), kBatch pairs per thread at a
// time: all of a batch's loads, then all of its decisions, then the atomics. `in` holds the
// first batch's inputs, loaded by load_batch before the table was ready.
template <class Keys>
__device__ __forceinline__ void load_batch(const Keys& keys, int64_t base, int64_t q1,
                                           typename Keys::In (&in)[kBatch]) {
#pragma unroll
  for (int u = 0; u < kBatch; ++u) {
    const int64_t p = base + u * kThreads + threadIdx.x;
    if (p < q1) in[u] = keys.load(p);
  }
}
// sub_pairs > 0: pair p counts into h[((p - q0) / sub_pairs) * kMaxBuckets + bucket] (one
// histogram per copy tile).
template <class Keys>
__device__ __forceinline__ void count_pairs(const Keys& keys, int64_t q0, int64_t q1, int num_buckets,
                                            typename Keys::In (&in)[kBatch], int32_t* h, int sub_pairs = 0) {
  for (int64_t base = q0; base < q1; base += kBatch * kThreads) {
    int kb[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int64_t p = base + u * kThreads + threadIdx.x;
      int32_t g;
      kb[u] = p < q1 ? bucket_of(keys.key(p, in[u], &g), num_buckets) : -1;
      if (sub_pairs > 0 && p < q1) kb[u] += (int(p - q0) / sub_pairs) * kMaxBuckets;
    }
    if (base + kBatch * kThreads < q1) load_batch<Keys>(keys, base + kBatch * kThreads, q1, in);
#pragma unroll
    for (int u = 0; u < kBatch; ++u)
      if (kb[u] >= 0) atomicAdd(&h[kb[u]], 1);
  }
}

}  // namespace grace::cuda::bucket_scatter_detail

#endif  // GRACE_SRC_CUDA_BUCKET_SCATTER_KEYS_CUH_
