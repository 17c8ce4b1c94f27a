// The gate kernel (grace/cuda/gate.h): one block per token, warps over experts for the logits
// (lanes over hidden: coalesced), then one thread applies the selection rule of
// src/engine/gate.cpp to the block's logits in shared memory.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "cuda/cuda_check.h"
#include "grace/cuda/gate.h"

namespace grace::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void gate_kernel(const __nv_bfloat16* x, const float* wg, int64_t hidden, DeviceGateSpec g, int32_t* ids,
                            float* weights, float* logits_out) {
  extern __shared__ float z[];  // [experts]
  const int64_t t = blockIdx.x;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const __nv_bfloat16* xr = x + t * hidden;
  for (int e = warp; e < g.experts; e += warps) {
    const float* w = wg + int64_t(e) * hidden;
    float s = 0.f;
    for (int64_t h = lane; h < hidden; h += 32) s += __bfloat162float(xr[h]) * w[h];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0) z[e] = s;
  }
  __syncthreads();
  if (logits_out)
    for (int e = threadIdx.x; e < g.experts; e += blockDim.x) logits_out[t * g.experts + e] = z[e];
  if (threadIdx.x != 0) return;
  const int E = g.experts, k = g.top_k, G = g.n_group, per = E / G;
  float mx = z[0];
  for (int e = 1; e < E; ++e) mx = fmaxf(mx, z[e]);
  float sum = 0.f;
  for (int e = 0; e < E; ++e) sum += __expf(z[e] - mx);
  uint32_t group_ok[32];  // bit per group (<= 1024 groups)
  for (int i = 0; i < 32; ++i) group_ok[i] = G == 1 ? 0xffffffffu : 0u;
  if (G > 1) {
    for (int r = 0; r < g.topk_group; ++r) {
      int best = -1;
      float bs = 0.f;
      for (int q = 0; q < G; ++q) {
        if ((group_ok[q >> 5] >> (q & 31)) & 1u) continue;
        float b = z[q * per];
        for (int e = 1; e < per; ++e) b = fmaxf(b, z[q * per + e]);
        if (best < 0 || b > bs) best = q, bs = b;
      }
      group_ok[best >> 5] |= 1u << (best & 31);
    }
  }
  uint32_t taken[32] = {};  // bit per expert (<= 1024)
  float wsum = 0.f;
  for (int j = 0; j < k; ++j) {
    int best = -1;
    for (int e = 0; e < E; ++e) {
      const int q = e / per;
      if (((taken[e >> 5] >> (e & 31)) & 1u) || !((group_ok[q >> 5] >> (q & 31)) & 1u)) continue;
      if (best < 0 || z[e] > z[best]) best = e;
    }
    taken[best >> 5] |= 1u << (best & 31);
    const float p = __expf(z[best] - mx) / sum;
    ids[t * k + j] = best;
    weights[t * k + j] = p;
    wsum += p;
  }
  if (g.norm_topk_prob && wsum > 0.f)
    for (int j = 0; j < k; ++j) weights[t * k + j] /= wsum;
}

}  // namespace

void gate_on_device(const bf16_t* x, const float* wg, int64_t n, int64_t hidden, const DeviceGateSpec& g, int32_t* ids,
                    float* weights, float* logits, Stream stream) {
  GRACE_CUDA_REQUIRE(g.experts >= 1 && g.experts <= 1024 && g.top_k >= 1 && g.n_group >= 1 &&
                         g.experts % g.n_group == 0 && g.topk_group >= 1 && g.topk_group <= g.n_group,
                     "bad gate spec");
  if (n == 0) return;
  gate_kernel<<<unsigned(n), kThreads, size_t(g.experts) * sizeof(float), stream>>>(
      reinterpret_cast<const __nv_bfloat16*>(x), wg, hidden, g, ids, weights, logits);
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
