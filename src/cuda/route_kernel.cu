// The routing kernel: one thread per (token, expert) pair, reading the flat routing table.
// The rules and the hash mirror src/route/table_routers.cpp and grace/routing_table.h exactly
// (integer thresholds, same draw bits, same candidate lists), so GPU and CPU decisions are
// identical.
#include <cuda_runtime.h>

#include "cuda/cuda_check.h"
#include "grace/cuda/routing.h"
#include "grace/routing_table.h"

namespace grace::cuda {
namespace {


__device__ __forceinline__ int pick_weighted_d(const uint32_t* cum, int n, uint32_t r) {
  int i = 0;
  while (i + 1 < n && r >= cum[i]) ++i;
  return i;
}

template <bool kTar>
__global__ void route_kernel(RoutingTableView v, uint64_t seed, int layer, const int32_t* ids,
                             int64_t num_pairs, int k, const int32_t* src_gpu, int src_all,
                             int64_t token_base, const int64_t* token_index, int32_t* dest_gpu,
                             int32_t* flat_slot) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // A following programmatic dependent launch (the bucket histogram) may start now; it waits
  // for this grid to finish before reading what it wrote.
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_pairs) return;
  const int64_t t = i / k;
  const int e = ids[i];
  const int le = layer * v.num_experts + e;
  const int o = v.inst_offset[le];
  const int c = v.inst_offset[le + 1] - o;
  int g = v.inst_gpu[o];  // primary
  if (kTar && c > 1) {
    const int src = src_gpu ? src_gpu[t] : src_all;
    if ((v.host_bits[size_t(le) * v.bit_words + (src >> 5)] >> (src & 31)) & 1u) {
      g = src;  // own GPU
    } else {
      // Candidates: the instances on the token's node if any, else all (routing_table.h).
      const int lne = (layer * v.num_nodes + src / v.gpus_per_node) * v.num_experts + e;
      const int co = v.cand_offset[lne], cn = v.cand_offset[lne + 1] - co;
      g = v.cand_gpu[co];
      if (cn > 1) {
        const uint32_t r = uint32_t(::grace::pick_hash(seed, uint32_t(layer), uint64_t(token_index ? token_index[t] : token_base + t),
                                                uint32_t(e)) >> 33);
        g = v.cand_gpu[co + pick_weighted_d(v.cand_cum + co, cn, r)];
      }
    }
  }
  if (dest_gpu) dest_gpu[i] = g;
  if (flat_slot) {
    flat_slot[i] = v.gpu_slot_offset[size_t(layer) * (v.num_gpus + 1) + g] +
                   v.slot_of[size_t(le) * v.num_gpus + g];
  }
}

}  // namespace

void route_on_device(const DeviceRoutingTable& table, DeviceRouter router, uint64_t seed,
                     const DeviceRouteBatch& b, int32_t* dest_gpu, int32_t* flat_slot,
                     Stream stream) {
  GRACE_CUDA_REQUIRE(b.top_k > 0 && b.num_tokens >= 0 && b.ids, "bad device route batch");
  const int64_t n = b.num_tokens * b.top_k;
  if (n == 0) return;
  const int threads = 256;
  const unsigned blocks = unsigned((n + threads - 1) / threads);
  if (router == DeviceRouter::kTar) {
    route_kernel<true><<<blocks, threads, 0, stream>>>(table.view(), seed, b.layer, b.ids, n,
                                                       b.top_k, b.src_gpu, b.src_gpu_all,
                                                       b.token_base, b.token_index, dest_gpu, flat_slot);
  } else {
    route_kernel<false><<<blocks, threads, 0, stream>>>(table.view(), seed, b.layer, b.ids, n,
                                                        b.top_k, b.src_gpu, b.src_gpu_all,
                                                        b.token_base, b.token_index, dest_gpu, flat_slot);
  }
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
