// The routing decision of one (token, expert) pair on the device, shared by the routing kernel
// (route_kernel.cu) and the fused route + bucket + scatter (bucket_scatter.cu), so both give
// the same bits. The rules and the hash mirror src/route/table_routers.cpp and
// grace/routing_table.h exactly (integer thresholds, same draw bits, same candidate lists).
// Internal header (src/cuda, .cu files only).
#ifndef GRACE_SRC_CUDA_ROUTE_DEVICE_CUH_
#define GRACE_SRC_CUDA_ROUTE_DEVICE_CUH_

#include <cstdint>

#include "grace/cuda/routing.h"
#include "grace/routing_table.h"

namespace grace::cuda {

// Kernel argument: the table and one batch (grace/cuda/routing.h), by value.
struct DeviceRouteArgs {
  RoutingTableView v;
  uint64_t seed = 0;
  int layer = 0;
  int k = 0;
  const int32_t* ids = nullptr;
  const int32_t* src_gpu = nullptr;
  int src_all = 0;
  int64_t token_base = 0;
  const int64_t* token_index = nullptr;
};

inline DeviceRouteArgs make_route_args(const RoutingTableView& v, uint64_t seed, const DeviceRouteBatch& b) {
  DeviceRouteArgs a;
  a.v = v;
  a.seed = seed;
  a.layer = b.layer;
  a.k = b.top_k;
  a.ids = b.ids;
  a.src_gpu = b.src_gpu;
  a.src_all = b.src_gpu_all;
  a.token_base = b.token_base;
  a.token_index = b.token_index;
  return a;
}

__device__ __forceinline__ int pick_weighted_d(const uint32_t* cum, int n, uint32_t r) {
  int i = 0;
  while (i + 1 < n && r >= cum[i]) ++i;
  return i;
}

// Where route_pair reads the table. GlobalTable: the whole table in device memory (the router
// kernel). SharedTable: one layer's part copied into shared memory (stage_layer_table below;
// the fused route + bucket + scatter), indices rebased to that part. Both answer the same
// questions with the same values, so route_pair gives the same bits either way.
struct GlobalTable {
  const RoutingTableView* v;
  int layer;
  __device__ __forceinline__ int inst_off(int e) const { return v->inst_offset[layer * v->num_experts + e]; }
  __device__ __forceinline__ int inst_gpu(int o) const { return v->inst_gpu[o]; }
  __device__ __forceinline__ uint32_t host_word(int e, int w) const {
    return v->host_bits[size_t(layer * v->num_experts + e) * v->bit_words + w];
  }
  __device__ __forceinline__ int cand_off(int node, int e) const {
    return v->cand_offset[(layer * v->num_nodes + node) * v->num_experts + e];
  }
  __device__ __forceinline__ int cand_gpu(int c) const { return v->cand_gpu[c]; }
  __device__ __forceinline__ const uint32_t* cand_cum(int c) const { return v->cand_cum + c; }
  __device__ __forceinline__ int flat_slot(int e, int g) const {
    return v->gpu_slot_offset[size_t(layer) * (v->num_gpus + 1) + g] +
           v->slot_of[size_t(layer * v->num_experts + e) * v->num_gpus + g];
  }
  __device__ __forceinline__ int gpus_per_node() const { return v->gpus_per_node; }
};

// One layer's part of the table in shared memory, raw copies of the global entries:
//   inst_off [E + 1], inst_gpu [inst_count], host [E * W], cand_off [N * E + 1],
//   cand_gpu [cand_count], cand_cum [cand_count], gso [G + 1], slot [E * G]
// (offsets keep their global values; inst_base / cand_base are subtracted on use).
struct SharedTable {
  const int32_t* inst_off_s;
  const int32_t* inst_gpu_s;
  const uint32_t* host_s;
  const int32_t* cand_off_s;
  const int32_t* cand_gpu_s;
  const uint32_t* cand_cum_s;
  const int32_t* gso_s;
  const int32_t* slot_s;
  const uint32_t* dec_s;  // tar decisions of source GPUs [dec_src0, dec_src0 + rows) (or none)
  int inst_base, cand_base, E, W, G, gpn, dec_src0;
  __device__ __forceinline__ int inst_off(int e) const { return inst_off_s[e] - inst_base; }
  __device__ __forceinline__ int inst_gpu(int o) const { return inst_gpu_s[o]; }
  __device__ __forceinline__ uint32_t host_word(int e, int w) const { return host_s[e * W + w]; }
  __device__ __forceinline__ int cand_off(int node, int e) const { return cand_off_s[node * E + e] - cand_base; }
  __device__ __forceinline__ int cand_gpu(int c) const { return cand_gpu_s[c]; }
  __device__ __forceinline__ const uint32_t* cand_cum(int c) const { return cand_cum_s + c; }
  __device__ __forceinline__ int flat_slot(int e, int g) const { return gso_s[g] + slot_s[e * G + g]; }
  __device__ __forceinline__ int gpus_per_node() const { return gpn; }
  __device__ __forceinline__ uint32_t decision(int src, int e) const { return dec_s[(src - dec_src0) * E + e]; }
};

// 32-bit words of a layer's SharedTable.
inline int64_t shared_table_words(const RoutingTableView& v, const RoutingTableSlice& s) {
  const int64_t E = v.num_experts;
  return (E + 1) + s.inst_count + E * v.bit_words + (int64_t(v.num_nodes) * E + 1) + 2 * int64_t(s.cand_count) +
         (v.num_gpus + 1) + E * v.num_gpus;
}

// The source GPUs whose tar decisions a batch needs: all of them (tokens on several GPUs), or
// the one its tokens live on.
struct DecisionRows {
  int src0 = 0, rows = 0;
};
__host__ __device__ inline DecisionRows decision_rows(const RoutingTableView& v, const DeviceRouteArgs& a) {
  if (a.src_gpu) return {0, v.num_gpus};
  return {a.src_all, 1};
}

__device__ __forceinline__ void cp_async4(void* smem, const void* gmem) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned s = unsigned(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(s), "l"(gmem) : "memory");
#else
  *static_cast<uint32_t*>(smem) = *static_cast<const uint32_t*>(gmem);
#endif
}
__device__ __forceinline__ void cp_async_wait_all() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;" ::: "memory");
#endif
}

// Starts copying `layer`'s part of the table into smem (shared_table_words words, then the tar
// decisions of dr.rows source GPUs: dr.rows * E words) with asynchronous copies by all threads
// of the block and returns its SharedTable. The copies complete at cp_async_wait_all() in each
// thread; then a block barrier before any use.
__device__ __forceinline__ SharedTable stage_layer_table(const RoutingTableView& v, const RoutingTableSlice& sl,
                                                         int layer, uint32_t* smem, DecisionRows dr = {}) {
  const int E = v.num_experts, W = v.bit_words, G = v.num_gpus, N = v.num_nodes;
  uint32_t* p = smem;
  auto seg = [&](const void* src, int64_t n) {
    const uint32_t* s = static_cast<const uint32_t*>(src);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) cp_async4(p + i, s + i);
    uint32_t* at = p;
    p += n;
    return at;
  };
  SharedTable t;
  t.inst_off_s = reinterpret_cast<const int32_t*>(seg(v.inst_offset + size_t(layer) * E, E + 1));
  t.inst_gpu_s = reinterpret_cast<const int32_t*>(seg(v.inst_gpu + sl.inst_base, sl.inst_count));
  t.host_s = seg(v.host_bits + size_t(layer) * E * W, int64_t(E) * W);
  t.cand_off_s = reinterpret_cast<const int32_t*>(seg(v.cand_offset + size_t(layer) * N * E, int64_t(N) * E + 1));
  t.cand_gpu_s = reinterpret_cast<const int32_t*>(seg(v.cand_gpu + sl.cand_base, sl.cand_count));
  t.cand_cum_s = seg(v.cand_cum + sl.cand_base, sl.cand_count);
  t.gso_s = reinterpret_cast<const int32_t*>(seg(v.gpu_slot_offset + size_t(layer) * (G + 1), G + 1));
  t.slot_s = reinterpret_cast<const int32_t*>(seg(v.slot_of + size_t(layer) * E * G, int64_t(E) * G));
  t.dec_s = dr.rows > 0 ? seg(v.tar_decision + (size_t(layer) * G + dr.src0) * E, int64_t(dr.rows) * E) : p;
  t.dec_src0 = dr.src0;
  t.inst_base = sl.inst_base;
  t.cand_base = sl.cand_base;
  t.E = E;
  t.W = W;
  t.G = G;
  t.gpn = v.gpus_per_node;
  return t;
}

// Pair i = t * k + j with expert e = ids[i]: its serving GPU (*gpu) and flat slot (the return
// value), reading the table through `tb` (GlobalTable or SharedTable).
template <bool kTar, class Table>
__device__ __forceinline__ int32_t route_pair_e(const Table& tb, const DeviceRouteArgs& a, int64_t t, int e,
                                                int32_t* gpu) {
  const int o = tb.inst_off(e);
  const int c = tb.inst_off(e + 1) - o;
  int g = tb.inst_gpu(o);  // primary
  if (kTar && c > 1) {
    const int src = a.src_gpu ? a.src_gpu[t] : a.src_all;
    if ((tb.host_word(e, src >> 5) >> (src & 31)) & 1u) {
      g = src;  // own GPU
    } else {
      // Candidates: the instances on the token's node if any, else all (routing_table.h).
      const int node = src / tb.gpus_per_node();
      const int co = tb.cand_off(node, e), cn = tb.cand_off(node, e + 1) - co;
      g = tb.cand_gpu(co);
      if (cn > 1) {
        const uint64_t token = uint64_t(a.token_index ? a.token_index[t] : a.token_base + t);
        const uint32_t r = uint32_t(::grace::pick_hash(a.seed, uint32_t(a.layer), token, uint32_t(e)) >> 33);
        g = tb.cand_gpu(co + pick_weighted_d(tb.cand_cum(co), cn, r));
      }
    }
  }
  *gpu = g;
  return tb.flat_slot(e, g);
}

template <bool kTar, class Table>
__device__ __forceinline__ int32_t route_pair_in(const Table& tb, const DeviceRouteArgs& a, int64_t i, int32_t* gpu) {
  return route_pair_e<kTar>(tb, a, i / a.k, a.ids[i], gpu);
}

// tar's decision for pair i (token t, expert e, token on GPU src) from the staged decisions
// (grace/cuda/routing.h's tar_decision): one shared-memory read where it is decided, the
// weighted draw among the staged candidates, or the whole decision. Same bits as route_pair_e.
__device__ __forceinline__ int32_t route_pair_decided(const SharedTable& tb, const DeviceRouteArgs& a, int64_t t,
                                                      int e, int src, int32_t* gpu) {
  const uint32_t w = tb.decision(src, e);
  if (!(w & tar_decision::kDraw)) {
    *gpu = int32_t(w >> 16);
    return int32_t(w & 0xffffu);
  }
  if (w == tar_decision::kFull) return route_pair_e<true>(tb, a, t, e, gpu);
  const int co = int(w & 0xfffffu), cn = int((w >> 20) & 0x7ffu);
  const uint64_t token = uint64_t(a.token_index ? a.token_index[t] : a.token_base + t);
  const uint32_t r = uint32_t(::grace::pick_hash(a.seed, uint32_t(a.layer), token, uint32_t(e)) >> 33);
  const int g = tb.cand_gpu(co + pick_weighted_d(tb.cand_cum(co), cn, r));
  *gpu = g;
  return tb.flat_slot(e, g);
}

// The same reading the whole table in device memory (the router kernel).
template <bool kTar>
__device__ __forceinline__ int32_t route_pair(const DeviceRouteArgs& a, int64_t i, int32_t* gpu) {
  return route_pair_in<kTar>(GlobalTable{&a.v, a.layer}, a, i, gpu);
}

}  // namespace grace::cuda

#endif  // GRACE_SRC_CUDA_ROUTE_DEVICE_CUH_
