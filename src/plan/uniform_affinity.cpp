// uniform-affinity (Occult-like): equal-size affinity groups, no replicas. Hierarchical: the
// experts are first split over nodes (each node gets the sum of its GPUs' sizes), then each
// node's experts over its GPUs; every split keeps as much pairwise affinity inside the parts
// as greedy growth plus pairwise swaps find. GPU sizes are E / G, the first E % G GPUs one more.
#include "grace/error.h"
#include "plan/partition.h"
#include "plan/plan_util.h"
#include "plan/planners.h"

namespace grace::plan {
namespace {

class UniformAffinityPlanner final : public Planner {
 public:
  std::string_view name() const override { return "uniform-affinity"; }
  std::string_view description() const override {
    return "Occult-style equal-size affinity groups (nodes, then GPUs), no replicas";
  }

 private:
  Placement plan_impl(const PlanContext& ctx) const override {
    const Topology& t = ctx.topo;
    const int E = ctx.profile.num_experts, N = t.nodes, Gn = t.gpus_per_node;
    auto gpu_sizes = equal_sizes(E, t.num_gpus());
    std::vector<int> node_sizes(N, 0);
    for (int g = 0; g < t.num_gpus(); ++g) node_sizes[t.node_of(g)] += gpu_sizes[g];
    Placement p;
    for (int l = 0; l < ctx.profile.num_layers; ++l) {
      AffMat a = layer_affinity(ctx.profile.layers[l]);
      auto node_of = partition_fixed_sizes(a, node_sizes);
      std::vector<int> gpu_of(E, -1);
      auto nodes = members_of(node_of, N);
      for (int n = 0; n < N; ++n) {
        std::vector<int> sizes(gpu_sizes.begin() + n * Gn, gpu_sizes.begin() + (n + 1) * Gn);
        auto local = partition_fixed_sizes(sub_affinity(a, nodes[n]), sizes);
        for (size_t i = 0; i < nodes[n].size(); ++i) gpu_of[nodes[n][i]] = t.gpu_at(n, local[i]);
      }
      p.layers.push_back(primaries_layer(gpu_of));
    }
    return p;
  }
};

}  // namespace

std::unique_ptr<Planner> make_uniform_affinity_planner() {
  return std::make_unique<UniformAffinityPlanner>();
}

}  // namespace grace::plan
