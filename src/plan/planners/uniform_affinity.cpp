// uniform-affinity (Occult-like): equal-size affinity groups, no replicas. Hierarchical: the
// experts are first split over nodes (each node gets the sum of its GPUs' sizes), then each
// node's experts over its GPUs; every split keeps as much pairwise affinity inside the parts
// as greedy growth plus pairwise swaps find. GPU sizes are E / G, the first E % G GPUs one more.
//
// uniform-affinity+replicas: the same groups, then the free slots (G x slots - E) filled the way
// DeepSeek's EPLB fills them: each to the expert with the largest load per instance, on the GPU
// with the least load that has room and lacks the expert; equal weights over an expert's
// instances. The equal-memory baseline for a planner that spends those slots on replicas.
#include <algorithm>

#include "grace/error.h"
#include "plan/partition.h"
#include "plan/plan_util.h"
#include "plan/planners.h"

namespace grace::plan {
namespace {

// EPLB-style replicas over the free slots of a primaries-only layer (see above).
void add_load_replicas(LayerPlacement& lp, const std::vector<double>& load, int gpus, int slots) {
  const int E = int(lp.experts.size());
  std::vector<int> used(gpus, 0), count(E, 1);
  std::vector<double> gload(gpus, 0.0);
  for (int e = 0; e < E; ++e) {
    ++used[lp.experts[e].primary_gpu()];
    gload[lp.experts[e].primary_gpu()] += load[e];
  }
  auto holds = [&](int e, int g) {
    for (const auto& in : lp.experts[e].instances)
      if (in.gpu == g) return true;
    return false;
  };
  int free_total = gpus * slots - E;
  std::vector<bool> full(E, false);
  while (free_total > 0) {
    int e = -1;
    for (int x = 0; x < E; ++x)
      if (!full[x] && (e < 0 || load[x] / count[x] > load[e] / count[e])) e = x;
    if (e < 0) break;
    int g = -1;
    for (int y = 0; y < gpus; ++y)
      if (used[y] < slots && !holds(e, y) && (g < 0 || gload[y] < gload[g])) g = y;
    if (g < 0) {
      full[e] = true;
      continue;
    }
    // The expert's load is shared equally by its instances: move the shares on the GPU loads.
    const double before = load[e] / count[e], after = load[e] / (count[e] + 1);
    for (const auto& in : lp.experts[e].instances) gload[in.gpu] += after - before;
    lp.experts[e].instances.push_back(Instance{g, 1.0});
    gload[g] += after;
    ++used[g], ++count[e], --free_total;
  }
  for (auto& ex : lp.experts)
    for (auto& in : ex.instances) in.weight = 1.0 / ex.num_instances();
}

class UniformAffinityPlanner final : public Planner {
 public:
  explicit UniformAffinityPlanner(bool replicas) : replicas_(replicas) {}
  std::string_view name() const override { return replicas_ ? "uniform-affinity+replicas" : "uniform-affinity"; }
  std::string_view description() const override {
    return replicas_ ? "uniform-affinity's groups plus EPLB-style replicas in the free slots (equal-memory baseline)"
                     : "Occult-style equal-size affinity groups (nodes, then GPUs), no replicas";
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
      if (replicas_) add_load_replicas(p.layers.back(), layer_load(ctx.profile.layers[l]), t.num_gpus(), ctx.slots());
    }
    return p;
  }
  bool replicas_;
};

}  // namespace

std::unique_ptr<Planner> make_uniform_affinity_planner() { return std::make_unique<UniformAffinityPlanner>(false); }
std::unique_ptr<Planner> make_uniform_affinity_replicas_planner() {
  return std::make_unique<UniformAffinityPlanner>(true);
}

}  // namespace grace::plan
