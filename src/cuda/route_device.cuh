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

// Pair i = t * k + j: its serving GPU (*gpu) and flat slot (the return value).
template <bool kTar>
__device__ __forceinline__ int32_t route_pair(const DeviceRouteArgs& a, int64_t i, int32_t* gpu) {
  const RoutingTableView& v = a.v;
  const int64_t t = i / a.k;
  const int e = a.ids[i];
  const int le = a.layer * v.num_experts + e;
  const int o = v.inst_offset[le];
  const int c = v.inst_offset[le + 1] - o;
  int g = v.inst_gpu[o];  // primary
  if (kTar && c > 1) {
    const int src = a.src_gpu ? a.src_gpu[t] : a.src_all;
    if ((v.host_bits[size_t(le) * v.bit_words + (src >> 5)] >> (src & 31)) & 1u) {
      g = src;  // own GPU
    } else {
      // Candidates: the instances on the token's node if any, else all (routing_table.h).
      const int lne = (a.layer * v.num_nodes + src / v.gpus_per_node) * v.num_experts + e;
      const int co = v.cand_offset[lne], cn = v.cand_offset[lne + 1] - co;
      g = v.cand_gpu[co];
      if (cn > 1) {
        const uint64_t token = uint64_t(a.token_index ? a.token_index[t] : a.token_base + t);
        const uint32_t r = uint32_t(::grace::pick_hash(a.seed, uint32_t(a.layer), token, uint32_t(e)) >> 33);
        g = v.cand_gpu[co + pick_weighted_d(v.cand_cum + co, cn, r)];
      }
    }
  }
  *gpu = g;
  return v.gpu_slot_offset[size_t(a.layer) * (v.num_gpus + 1) + g] + v.slot_of[size_t(le) * v.num_gpus + g];
}

}  // namespace grace::cuda

#endif  // GRACE_SRC_CUDA_ROUTE_DEVICE_CUH_
