// Placement: where every expert instance of every MoE layer lives, and how tokens are spread
// over an expert's instances. The value type that planners write and routers, the evaluator,
// the simulator and the engine read. Serialised as versioned JSON (placement_io.h).
//
// Per layer and expert: one or more instances (GPU ids, distinct); instances[0] is the
// primary, the rest are replicas. Weights are the routing shares of the instances (positive,
// summing to 1 per expert).
#ifndef GRACE_PLACEMENT_H_
#define GRACE_PLACEMENT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace grace {

struct Topology;
struct ModelSpec;

struct Instance {
  int gpu = 0;
  double weight = 1.0;
};

struct ExpertPlacement {
  std::vector<Instance> instances;  // [0] is the primary
  int num_instances() const { return int(instances.size()); }
  int primary_gpu() const { return instances.front().gpu; }
};

struct LayerPlacement {
  std::vector<ExpertPlacement> experts;  // [num_experts]
  // Per GPU, the experts it hosts in slot order (derived; see Placement::gpu_slots).
};

struct Placement {
  static constexpr int kFormatVersion = 1;

  std::string model;   // ModelSpec::name
  std::string policy;  // planner name
  uint64_t seed = 0;
  int num_layers = 0;
  int num_experts = 0;
  int nodes = 0;
  int gpus_per_node = 0;
  int slots_per_gpu = 0;  // capacity the plan was made for
  std::vector<LayerPlacement> layers;

  int num_gpus() const { return nodes * gpus_per_node; }
  // Experts hosted by each GPU at `layer`, in slot order: primaries first by expert id, then
  // replicas by expert id. Size num_gpus().
  std::vector<std::vector<int>> gpu_slots(int layer) const;
  // Number of instances at `layer` (>= num_experts).
  int num_instances(int layer) const;
};

// Checks the placement against the topology and model: shape, every expert placed, GPU ids
// in range, no duplicate instance of an expert on one GPU, weights positive and normalised,
// slots per GPU (the placement's and, when set, the topology's) and expert memory respected
// (when expert_memory_GB is set: a GPU's instances summed over all layers x expert_bytes()).
// Throws InputError with the first violation, naming `source` when given:
// "placement 'x.json': layer 3, expert 17: instance on GPU 9 but the topology has 8 GPUs".
void validate_placement(const Placement& p, const Topology& topo, const ModelSpec& model,
                        const std::string& source = "");

// A stable 64-bit hash of the placement's content (for engine start-up agreement checks).
uint64_t placement_hash(const Placement& p);

}  // namespace grace

#endif  // GRACE_PLACEMENT_H_
