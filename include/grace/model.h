// ModelSpec: the architecture facts of an MoE model that placement, routing, simulation and
// the engine need. Presets carry the published configs (see docs/); a JSON file with the same
// keys describes any other model.
#ifndef GRACE_MODEL_H_
#define GRACE_MODEL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace grace {

struct ModelSpec {
  std::string name;
  int moe_layers = 0;
  int dense_layers = 0;
  int experts = 0;         // routed experts per MoE layer
  int shared_experts = 0;  // always-on experts (not placed by grace; run data-parallel)
  int top_k = 0;
  int64_t hidden = 0;
  int64_t moe_intermediate = 0;
  int64_t vocab = 0;
  int dtype_bytes = 2;  // activations and weights on the wire / in memory (bf16)
  // The router (gate) of each MoE layer, for the engine's gate routing: softmax over the experts'
  // logits; with n_group > 1 DeepSeek's group-limited top-k (experts split into n_group equal
  // groups, a group scored by its best expert, only the best topk_group groups compete); then
  // top-k; the k weights renormalised to sum 1 when norm_topk_prob.
  int n_group = 1;
  int topk_group = 1;
  bool norm_topk_prob = false;

  // Bytes of one routed expert's weights (SwiGLU: gate, up, down = 3 x hidden x intermediate).
  int64_t expert_bytes() const { return 3 * hidden * moe_intermediate * dtype_bytes; }
  // FLOPs of one token through one expert (3 GEMMs, 2 FLOPs per MAC).
  double expert_flops_per_token() const { return 6.0 * double(hidden) * double(moe_intermediate); }
  // Bytes of one token's hidden state on the wire.
  int64_t token_bytes() const { return hidden * dtype_bytes; }

  // Throws InputError naming the field when a value is out of range.
  void validate() const;
};

// Names of the built-in presets ("deepseek-v2-lite", "deepseek-v3", "gpt-oss-20b", ...).
std::vector<std::string> model_preset_names();

// A preset by name, or a JSON file with the ModelSpec keys (models.json layout: one object).
// Throws InputError listing the presets when neither matches.
ModelSpec load_model(std::string_view name_or_path);

// A model spec for a trace whose layers/experts/top-k are known but the model is not.
ModelSpec generic_model(int layers, int experts, int top_k, int64_t hidden = 2048, int64_t intermediate = 1408);

}  // namespace grace

#endif  // GRACE_MODEL_H_
