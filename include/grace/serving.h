// Placements as SGLang and vLLM load them (docs/formats.md, docs/serving.md).
//
// Both systems place physical expert p on EP rank p / num_local_physical_experts and need every
// physical slot filled. physical_layout() lays a grace placement out that way: num_gpus x
// slots_per_gpu physical experts per MoE layer, a GPU's slots holding Placement::gpu_slots in
// order. Slots the placement leaves empty are filled with REAL extra replicas (an expert the GPU
// does not host yet), never with a second copy of an expert on the same GPU: SGLang's dispatch
// counts copies, so a same-GPU duplicate would double that GPU's share of the expert's traffic.
//
// SGLang (--init-expert-location FILE.json): {"physical_to_logical_map": [decoder layers][P]},
// indexed by ABSOLUTE decoder layer id (ModelConfigForExpertLocation.num_layers =
// num_hidden_layers), so dense layers (the model's first `dense_layers`) get rows too (a valid
// permutation, p % E). The server must run with --ep-num-redundant-experts P - E and
// --ep-size num_gpus; the file's key set must be exactly {"physical_to_logical_map"}.
//
// vLLM (eplb_config.initial_expert_map_path, open pull request vllm-project/vllm#49572, not in
// a vLLM release): a bare JSON array, one physical->logical row per MoE layer.
#ifndef GRACE_SERVING_H_
#define GRACE_SERVING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "grace/placement.h"

namespace grace {

struct ModelSpec;

struct PhysicalLayout {
  int num_layers = 0;  // MoE layers
  int num_experts = 0;
  int nodes = 0;
  int gpus_per_node = 0;
  int slots_per_gpu = 0;
  int spare_slots_filled = 0;    // empty slots of the placement, filled with extra replicas
  std::vector<int32_t> phy2log;  // [num_layers][num_physical()]

  int num_gpus() const { return nodes * gpus_per_node; }
  int num_physical() const { return num_gpus() * slots_per_gpu; }
  int redundant() const { return num_physical() - num_experts; }
  const int32_t* row(int layer) const { return phy2log.data() + size_t(layer) * num_physical(); }
  int gpu_of(int physical) const { return physical / slots_per_gpu; }
};

// Throws InputError when a GPU holds more instances than slots_per_gpu, or (require_full) when a
// GPU has more slots than there are experts, so a slot cannot get a distinct expert. With
// require_full = false such slots stay -1 (the SGLang routers emulate any placement this way).
PhysicalLayout physical_layout(const Placement& p, bool require_full = true);

// The placement as the serving system holds it: p plus the extra replicas physical_layout fills
// its spare slots with (require_full = false), an expert's weights made equal where it gained
// copies. p itself when it has no spare slot. The SGLang routers route over this layout, so the
// evaluator counts their traffic against it (router_routes_served_layout).
Placement served_placement(const Placement& p);

// The SGLang export of a placement for `model` (dense_layers rows first, then the MoE layers).
struct SglangExport {
  std::string json;    // the --init-expert-location file
  int num_layers = 0;  // rows: dense + MoE decoder layers
  int dense_layers = 0;
  int num_logical = 0;   // experts
  int num_physical = 0;  // columns
  int redundant = 0;     // --ep-num-redundant-experts
  int ep_size = 0;       // --ep-size
  int spare_slots_filled = 0;
};
SglangExport export_sglang(const Placement& p, const ModelSpec& model);
// "--init-expert-location PATH --ep-num-redundant-experts R --ep-size G --ep-dispatch-algorithm static"
std::string sglang_flags(const SglangExport& e, const std::string& path);

// The node-aware dispatch SGLang's static rule would need to keep traffic on the node, in the
// layout of ExpertLocationMetadata.logical_to_rank_dispatch_physical_map before the per-rank
// slice: {"logical_to_rank_dispatch_physical_map": [ep rank][decoder layer][logical expert]}
// (physical ids). Per rank: its own copy; else a copy on its node, the node's GPUs spread over
// the node's copies by the placement's weights; else the same over all copies.
std::string export_sglang_dispatch(const Placement& p, const ModelSpec& model);

// vLLM initial_expert_map_path file: [[physical -> logical] per MoE layer].
std::string export_vllm_initial_map(const Placement& p);

// Checks an --init-expert-location file the way SGLang will use it for `model` on `ep_size`
// ranks with --ep-num-redundant-experts `redundant` (< 0: take it from the file's width):
// exactly the key "physical_to_logical_map"; rows == dense + MoE layers; every row has
// experts + redundant integer entries; that count divides by ep_size; ids in [0, experts);
// every logical expert has a copy in every row. Throws InputError naming `source` and the first
// problem; returns the facts.
struct SglangFileCheck {
  int num_layers = 0;
  int num_physical = 0;
  int redundant = 0;
  int ep_size = 0;
  int max_copies = 0;  // most copies of one logical expert in one layer
};
SglangFileCheck check_sglang_file(const std::string& text, const ModelSpec& model, int ep_size, int redundant,
                                  const std::string& source);

}  // namespace grace

#endif  // GRACE_SERVING_H_
