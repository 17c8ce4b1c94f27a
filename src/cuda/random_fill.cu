// fill_uniform_bf16: counter-based pseudo-random bf16 data (splitmix64 of seed and index).
#include <cuda_bf16.h>

#include "cuda/cuda_check.h"
#include "grace/cuda/device.h"

namespace grace::cuda {
namespace {

__global__ void fill_kernel(__nv_bfloat16* dst, int64_t n, uint64_t seed, float scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint64_t x = seed + uint64_t(i) * 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    const float u = float(x >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    dst[i] = __float2bfloat16_rn((2.0f * u - 1.0f) * scale);
  }
}

}  // namespace

void fill_uniform_bf16(bf16_t* dst, int64_t n, uint64_t seed, float scale, Stream stream) {
  if (n <= 0) return;
  int64_t blocks = (n + 255) / 256;
  if (blocks > 132 * 16) blocks = 132 * 16;
  fill_kernel<<<unsigned(blocks), 256, 0, stream>>>(reinterpret_cast<__nv_bfloat16*>(dst), n, seed, scale);
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
