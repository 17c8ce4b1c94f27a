// Test helpers: hand-built placements and topologies for router and evaluator tests.
#ifndef GRACE_TESTS_ROUTE_HAND_PLACEMENT_H_
#define GRACE_TESTS_ROUTE_HAND_PLACEMENT_H_

#include <utility>
#include <vector>

#include "grace/placement.h"
#include "grace/topology.h"

namespace grace::testing {

inline Topology hand_topology(int nodes, int gpus_per_node) {
  Topology t;
  t.nodes = nodes;
  t.gpus_per_node = gpus_per_node;
  return t;
}

// experts[l][e] = list of (gpu, weight), primary first. Weights are normalised here.
inline Placement hand_placement(int nodes, int gpus_per_node,
                                const std::vector<std::vector<std::vector<std::pair<int, double>>>>& experts) {
  Placement p;
  p.model = "hand";
  p.policy = "hand";
  p.nodes = nodes;
  p.gpus_per_node = gpus_per_node;
  p.num_layers = int(experts.size());
  p.num_experts = int(experts.front().size());
  p.slots_per_gpu = 64;
  for (const auto& layer : experts) {
    LayerPlacement lp;
    for (const auto& inst : layer) {
      ExpertPlacement ep;
      double total = 0;
      for (const auto& [g, w] : inst) total += w;
      for (const auto& [g, w] : inst) ep.instances.push_back({g, w / total});
      lp.experts.push_back(ep);
    }
    p.layers.push_back(lp);
  }
  return p;
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_ROUTE_HAND_PLACEMENT_H_
