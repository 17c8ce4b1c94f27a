// The routing kernel: one thread per (token, expert) pair, reading the flat routing table
// (the decision itself is route_pair in cuda/route_device.cuh, bit-identical to the CPU routers).
#include <cuda_runtime.h>

#include "cuda/cuda_check.h"
#include "cuda/route_device.cuh"
#include "grace/cuda/routing.h"

namespace grace::cuda {
namespace {

template <bool kTar>
__global__ void route_kernel(DeviceRouteArgs a, int64_t num_pairs, int32_t* dest_gpu, int32_t* flat_slot) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // A following programmatic dependent launch (the bucket histogram) may start now; it waits
  // for this grid to finish before reading what it wrote.
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= num_pairs) return;
  int32_t g = 0;
  const int32_t slot = route_pair<kTar>(a, i, &g);
  if (dest_gpu) dest_gpu[i] = g;
  if (flat_slot) flat_slot[i] = slot;
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
  const DeviceRouteArgs a = make_route_args(table.view(), seed, b);
  if (router == DeviceRouter::kTar) {
    route_kernel<true><<<blocks, threads, 0, stream>>>(a, n, dest_gpu, flat_slot);
  } else {
    route_kernel<false><<<blocks, threads, 0, stream>>>(a, n, dest_gpu, flat_slot);
  }
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
