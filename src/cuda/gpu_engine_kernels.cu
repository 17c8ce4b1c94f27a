// Kernels of the GPU-resident engine (contract in gpu_engine_kernels.h).
#include "cuda/gpu_engine_kernels.h"

#include <cuda_bf16.h>

#include "cuda/cuda_check.h"

namespace grace::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  if (b > 132 * 32) b = 132 * 32;
  return unsigned(b);
}

__device__ __forceinline__ int peer_of(int g, StagePeers sp) {
  if (g < 0) return -1;
  switch (sp.map) {
    case StageMap::kFlat: return g;
    case StageMap::kNode: return (g / sp.gpn) * sp.gpn + sp.my_local;
    default: return g % sp.gpn;
  }
}

__global__ void unit_keys_kernel(const int32_t* dest, int64_t pairs, int k, StagePeers sp, int32_t* keys) {
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < pairs; p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t0 = (p / k) * k;
    const int pe = peer_of(dest[p], sp);
    int key = pe < 0 ? sp.size : pe;
    for (int64_t q = t0; q < p && key < sp.size; ++q)
      if (peer_of(dest[q], sp) == pe) key = sp.size;
    keys[p] = key;
  }
}

__global__ void unit_meta_kernel(const int32_t* dest, const int32_t* slot, const float* w, const int32_t* keys,
                                 const int32_t* position, int64_t pairs, int k, StagePeers sp,
                                 int32_t* out_dest, int32_t* out_slot, float* out_w) {
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < pairs; p += int64_t(gridDim.x) * blockDim.x) {
    const int key = keys[p];
    if (key >= sp.size) continue;
    const int64_t pos = position[p];
    const int64_t t0 = (p / k) * k;
    for (int j = 0; j < k; ++j) {
      const int g = dest[t0 + j];
      out_dest[pos * k + j] = peer_of(g, sp) == key ? g : -1;
      out_slot[pos * k + j] = slot[t0 + j];
      out_w[pos * k + j] = w[t0 + j];
    }
  }
}

__global__ void local_keys_kernel(const int32_t* dest, const int32_t* slot, int64_t n, int me, int base, int nl,
                                  int32_t* keys) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    keys[i] = dest[i] == me ? slot[i] - base : nl;
}

__global__ void add_residual_kernel(const __nv_bfloat162* x, int64_t n2, __nv_bfloat162* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n2; i += int64_t(gridDim.x) * blockDim.x) {
    const float2 a = __bfloat1622float2(x[i]);
    const float2 b = __bfloat1622float2(out[i]);
    out[i] = __floats2bfloat162_rn(a.x + b.x, a.y + b.y);
  }
}

__global__ void fill_f32_kernel(float* dst, int64_t n, float v) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = v;
}

__global__ void counts_kernel(const int32_t* off, int n, int64_t* counts) {
  for (int p = threadIdx.x; p < n; p += blockDim.x) counts[p] = int64_t(off[p + 1]) - off[p];
}

}  // namespace

void counts_from_offsets(const int32_t* offsets, int n, int64_t* counts, Stream stream) {
  counts_kernel<<<1, 128, 0, stream>>>(offsets, n, counts);
  GRACE_CUDA_CHECK_LAUNCH();
}

void unit_keys(const int32_t* dest, int64_t tokens, int top_k, StagePeers sp, int32_t* keys, Stream stream) {
  const int64_t pairs = tokens * top_k;
  if (pairs <= 0) return;
  unit_keys_kernel<<<blocks_for(pairs), kThreads, 0, stream>>>(dest, pairs, top_k, sp, keys);
  GRACE_CUDA_CHECK_LAUNCH();
}

void unit_meta(const int32_t* dest, const int32_t* slot, const float* w, const int32_t* keys,
               const int32_t* position, int64_t tokens, int top_k, StagePeers sp, int32_t* out_dest,
               int32_t* out_slot, float* out_w, Stream stream) {
  const int64_t pairs = tokens * top_k;
  if (pairs <= 0) return;
  unit_meta_kernel<<<blocks_for(pairs), kThreads, 0, stream>>>(dest, slot, w, keys, position, pairs, top_k, sp,
                                                               out_dest, out_slot, out_w);
  GRACE_CUDA_CHECK_LAUNCH();
}

void local_keys(const int32_t* dest, const int32_t* slot, int64_t n, int me, int slot_base, int num_local,
                int32_t* keys, Stream stream) {
  if (n <= 0) return;
  local_keys_kernel<<<blocks_for(n), kThreads, 0, stream>>>(dest, slot, n, me, slot_base, num_local, keys);
  GRACE_CUDA_CHECK_LAUNCH();
}

void add_residual(const bf16_t* x, int64_t n, bf16_t* out, Stream stream) {
  GRACE_CUDA_REQUIRE(n % 2 == 0, "add_residual: odd element count");
  if (n <= 0) return;
  add_residual_kernel<<<blocks_for(n / 2), kThreads, 0, stream>>>(reinterpret_cast<const __nv_bfloat162*>(x), n / 2,
                                                                 reinterpret_cast<__nv_bfloat162*>(out));
  GRACE_CUDA_CHECK_LAUNCH();
}

void fill_f32(float* dst, int64_t n, float value, Stream stream) {
  if (n <= 0) return;
  fill_f32_kernel<<<blocks_for(n), kThreads, 0, stream>>>(dst, n, value);
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
