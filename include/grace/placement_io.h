// Placement files: grace's own versioned JSON, and exports for serving systems.
//
// grace JSON (version 1): {"format":"grace-placement","version":1,"model":..,"policy":..,
//   "seed":..,"topology":{"nodes":..,"gpus_per_node":..,"slots_per_gpu":..},
//   "num_layers":..,"num_experts":..,
//   "layers":[ {"experts":[ {"instances":[gpu,...],"weights":[w,...]}, ... ]}, ... ]}
//
// Exports for serving systems (serving.h has the layouts and the rules):
//   sglang           SGLang --init-expert-location: {"physical_to_logical_map": [decoder layer][P]}
//   sglang-dispatch  SGLang logical_to_rank_dispatch_physical_map, node-aware: [rank][layer][E]
//   vllm             vLLM eplb_config.initial_expert_map_path (open PR): [MoE layer][P]
//   physical expert p lives on GPU p / slots_per_gpu.
#ifndef GRACE_PLACEMENT_IO_H_
#define GRACE_PLACEMENT_IO_H_

#include <string>

#include "grace/placement.h"

namespace grace {

std::string placement_to_json(const Placement& p);
// Throws InputError naming `source` (a path or "<string>") and the problem.
Placement placement_from_json(const std::string& text, const std::string& source = "<string>");

// Atomic write (temp file + rename); load reads and parses (structure only, no topology check).
void save_placement(const Placement& p, const std::string& path);
Placement load_placement(const std::string& path);

struct ModelSpec;

enum class ExportFormat { kSglang, kSglangDispatch, kVllm };
ExportFormat parse_export_format(const std::string& name);  // "sglang" | "sglang-dispatch" | "vllm"
// `model` gives SGLang's decoder layer count (dense_layers + moe_layers); it must match the
// placement's MoE layers and experts.
std::string export_placement(const Placement& p, ExportFormat fmt, const ModelSpec& model);
// Reads an sglang or vllm export back (instances are recovered; weights become equal shares).
// dense_layers: leading SGLang rows to drop (the model's dense layers).
Placement import_placement(const std::string& text, ExportFormat fmt, int nodes, int gpus_per_node,
                           const std::string& source = "<string>", int dense_layers = 0);

}  // namespace grace

#endif  // GRACE_PLACEMENT_IO_H_
