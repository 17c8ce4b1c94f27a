// The MoE router (gate) of the engine's gate routing: logits = x W_g^T, softmax over the experts,
// top-k (DeepSeek's group-limited top-k when the model has groups), weights as the model says.
// Pure functions, shared by the CPU backend, the single-process reference and the GPU kernel's
// test (src/cuda/gate_kernel.cu implements the same rule).
//
// Selection rule (deterministic, ties -> lower index): with n_group > 1 the experts form n_group
// equal groups, a group's score is its best logit, and only the topk_group best groups compete;
// the top_k best logits among them are chosen (in descending order). Weight of a chosen expert =
// its softmax probability over ALL experts; with norm_topk_prob the k weights are divided by
// their sum. (Ranking by logits equals ranking by probabilities: softmax is monotonic.)
#ifndef GRACE_ENGINE_GATE_H_
#define GRACE_ENGINE_GATE_H_

#include <cstdint>

#include "grace/model.h"

namespace grace::engine {

struct GateSpec {
  int experts = 0, top_k = 0, n_group = 1, topk_group = 1;
  bool norm_topk_prob = false;
  static GateSpec of(const ModelSpec& m) { return {m.experts, m.top_k, m.n_group, m.topk_group, m.norm_topk_prob}; }
};

// logits [n][experts] -> ids [n][top_k], weights [n][top_k].
void gate_topk(const float* logits, int64_t n, const GateSpec& g, int32_t* ids, float* weights);

// logits [n][experts] = x [n][hidden] * wg^T, wg [experts][hidden] (F32, OpenBLAS).
void gate_logits(const float* x, int64_t n, int64_t hidden, const float* wg, int experts, float* logits);

}  // namespace grace::engine

#endif  // GRACE_ENGINE_GATE_H_
