// Placement files: grace's own versioned JSON, and exports for serving systems.
//
// grace JSON (version 1): {"format":"grace-placement","version":1,"model":..,"policy":..,
//   "seed":..,"topology":{"nodes":..,"gpus_per_node":..,"slots_per_gpu":..},
//   "num_layers":..,"num_experts":..,
//   "layers":[ {"experts":[ {"instances":[gpu,...],"weights":[w,...]}, ... ]}, ... ]}
//
// SGLang (--init-expert-location): {"physical_to_logical_map": [[layer][num_physical]]}
//   physical expert p lives on GPU p / slots_per_gpu.
// vLLM (EPLB state): {"physical_to_logical_map", "logical_to_physical_map" (padded with -1),
//   "logical_replica_count"}.
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

enum class ExportFormat { kSglang, kVllm };
ExportFormat parse_export_format(const std::string& name);  // "sglang" | "vllm"
std::string export_placement(const Placement& p, ExportFormat fmt);
// Reads an export back (instances are recovered; weights become equal shares).
Placement import_placement(const std::string& text, ExportFormat fmt, int nodes, int gpus_per_node,
                           const std::string& source = "<string>");

}  // namespace grace

#endif  // GRACE_PLACEMENT_IO_H_
