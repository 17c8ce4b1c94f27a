// Fused SwiGLU activation: silu(gate) * up on BF16 rows, F32 math, 16-byte loads and stores.
#include <cuda_bf16.h>

#include "cuda/cuda_check.h"
#include "grace/cuda/expert_ffn.h"

namespace grace::cuda {
namespace {

__global__ void swiglu_kernel(const uint4* h, int64_t rows, int vec_inter, uint4* act) {
  const int64_t total = rows * vec_inter;
  for (int64_t v = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; v < total;
       v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = v / vec_inter;
    const int c = int(v - r * vec_inter);
    const uint4 g = h[r * 2 * vec_inter + c];
    const uint4 u = h[r * 2 * vec_inter + vec_inter + c];
    const __nv_bfloat162* g2 = reinterpret_cast<const __nv_bfloat162*>(&g);
    const __nv_bfloat162* u2 = reinterpret_cast<const __nv_bfloat162*>(&u);
    uint4 o;
    __nv_bfloat162* o2 = reinterpret_cast<__nv_bfloat162*>(&o);
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const float2 gf = __bfloat1622float2(g2[q]);
      const float2 uf = __bfloat1622float2(u2[q]);
      const float a = gf.x / (1.0f + __expf(-gf.x)) * uf.x;
      const float b = gf.y / (1.0f + __expf(-gf.y)) * uf.y;
      o2[q] = __floats2bfloat162_rn(a, b);
    }
    act[v] = o;
  }
}

}  // namespace

void swiglu(const bf16_t* h, int64_t rows, int64_t inter, bf16_t* act, Stream stream) {
  GRACE_CUDA_REQUIRE(inter % 8 == 0, "intermediate size is not a multiple of 8");
  if (rows <= 0) return;
  const int vi = int(inter / 8);
  const int64_t work = rows * vi;
  const int threads = 256;
  int64_t blocks = (work + threads - 1) / threads;
  if (blocks > 132 * 32) blocks = 132 * 32;
  swiglu_kernel<<<unsigned(blocks), threads, 0, stream>>>(reinterpret_cast<const uint4*>(h), rows, vi,
                                                          reinterpret_cast<uint4*>(act));
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
