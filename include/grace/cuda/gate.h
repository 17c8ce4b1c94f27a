// The MoE router on the GPU, for the engine's gate routing: logits = x W_g^T, then the same
// selection and weights as the CPU gate (grace/engine/gate.h: softmax, group-limited top-k,
// optional renormalisation, ties -> lower index). One block per token; the gate weights stay F32.
#ifndef GRACE_CUDA_GATE_H_
#define GRACE_CUDA_GATE_H_

#include <cstdint>

#include "grace/cuda/device.h"

namespace grace::cuda {

struct DeviceGateSpec {
  int experts = 0, top_k = 0, n_group = 1, topk_group = 1;
  bool norm_topk_prob = false;
};

// x [n][hidden] bf16, wg [experts][hidden] f32 -> ids [n][top_k], weights [n][top_k]; logits
// [n][experts] f32 are written too when not null. experts <= 1024. Asynchronous.
void gate_on_device(const bf16_t* x, const float* wg, int64_t n, int64_t hidden, const DeviceGateSpec& g,
                    int32_t* ids, float* weights, float* logits, Stream stream);

}  // namespace grace::cuda

#endif  // GRACE_CUDA_GATE_H_
