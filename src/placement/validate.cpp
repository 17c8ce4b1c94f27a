// validate_placement (see placement.h): every check names the placement, and the layer,
// expert or GPU at fault. Checks run in order: shape, then per layer and expert (instances,
// GPU range, duplicates, weights), then per layer and GPU (slots), then per GPU memory: the
// instances of all layers together x ModelSpec::expert_bytes() <= expert_memory_GB when set.
#include <algorithm>
#include <cmath>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/topology.h"

namespace grace {

void validate_placement(const Placement& p, const Topology& topo, const ModelSpec& model, const std::string& source) {
  const std::string who = source.empty() ? std::string("placement") : fmt::format("placement '{}'", source);
  GRACE_INPUT_CHECK(p.nodes == topo.nodes && p.gpus_per_node == topo.gpus_per_node,
                    "{}: made for {}x{} GPUs but the topology '{}' is {}x{}", who, p.nodes, p.gpus_per_node, topo.name,
                    topo.nodes, topo.gpus_per_node);
  GRACE_INPUT_CHECK(p.num_layers == model.moe_layers && p.num_experts == model.experts,
                    "{}: has {} layers x {} experts but model '{}' has {} x {}", who, p.num_layers, p.num_experts,
                    model.name, model.moe_layers, model.experts);
  GRACE_INPUT_CHECK(int(p.layers.size()) == p.num_layers, "{}: num_layers is {} but {} layers are listed", who,
                    p.num_layers, p.layers.size());
  GRACE_INPUT_CHECK(p.slots_per_gpu >= 1, "{}: slots_per_gpu = {} must be >= 1", who, p.slots_per_gpu);
  const int G = topo.num_gpus();
  std::vector<int64_t> gpu_instances(size_t(G), 0);  // over all layers, for the memory check
  for (int l = 0; l < p.num_layers; ++l) {
    const auto& experts = p.layers[size_t(l)].experts;
    GRACE_INPUT_CHECK(int(experts.size()) == p.num_experts, "{}: layer {}: {} experts listed, expected {}", who, l,
                      experts.size(), p.num_experts);
    for (int e = 0; e < p.num_experts; ++e) {
      const auto& inst = experts[size_t(e)].instances;
      GRACE_INPUT_CHECK(!inst.empty(), "{}: layer {}, expert {}: no instance (every expert must be placed)", who, l, e);
      double sum = 0;
      for (size_t i = 0; i < inst.size(); ++i) {
        const int g = inst[i].gpu;
        GRACE_INPUT_CHECK(g >= 0 && g < G, "{}: layer {}, expert {}: instance on GPU {} but the topology has {} GPUs",
                          who, l, e, g, G);
        for (size_t j = 0; j < i; ++j)
          GRACE_INPUT_CHECK(inst[j].gpu != g, "{}: layer {}, expert {}: two instances on GPU {}", who, l, e, g);
        const double w = inst[i].weight;
        GRACE_INPUT_CHECK(std::isfinite(w) && w > 0,
                          "{}: layer {}, expert {}: weight {} of the instance on GPU {} "
                          "must be positive",
                          who, l, e, w, g);
        sum += w;
      }
      GRACE_INPUT_CHECK(std::abs(sum - 1.0) <= 1e-6, "{}: layer {}, expert {}: weights sum to {} instead of 1", who, l,
                        e, sum);
    }
    const auto slots = p.gpu_slots(l);
    for (int g = 0; g < G; ++g) {
      const int n = int(slots[size_t(g)].size());
      GRACE_INPUT_CHECK(n <= p.slots_per_gpu,
                        "{}: layer {}, GPU {}: {} instances but the placement has {} slots "
                        "per GPU",
                        who, l, g, n, p.slots_per_gpu);
      GRACE_INPUT_CHECK(topo.slots_per_gpu <= 0 || n <= topo.slots_per_gpu,
                        "{}: layer {}, GPU {}: {} instances but the topology '{}' has {} slots per GPU", who, l, g, n,
                        topo.name, topo.slots_per_gpu);
      gpu_instances[size_t(g)] += n;
    }
  }
  if (topo.expert_memory_GB > 0) {
    // Memory holds every layer's instances at once: the check is over the sum over layers.
    const double gb = double(model.expert_bytes()) / 1e9;
    for (int g = 0; g < G; ++g)
      GRACE_INPUT_CHECK(double(gpu_instances[size_t(g)]) * gb <= topo.expert_memory_GB * (1 + 1e-12),
                        "{}: GPU {}: {} expert instances over all layers x {:.4f} GB = {:.3f} GB exceed the "
                        "topology's expert_memory_GB = {}",
                        who, g, gpu_instances[size_t(g)], gb, double(gpu_instances[size_t(g)]) * gb,
                        topo.expert_memory_GB);
  }
}

}  // namespace grace
