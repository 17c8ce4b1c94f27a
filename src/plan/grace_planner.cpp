// grace: the project's own planner (docs/planners.md explains the choices), made for the `tar`
// router with hierarchical communication. Per layer:
//   1. nodes: METIS k-way partition of the (sparsified) affinity graph into equal-count parts
//      (one constraint, cheap), node capacity enforced by release / rejoin / fill, then swaps of
//      single-node experts until the nodes' predicted tar loads are within 2% (node_sets.h);
//   2. replicas at node level: every free slot of a node holds a copy of an expert the node
//      lacks, the copies that make the most of the node's tokens fully local first; node loads
//      balanced again;
//   3. GPUs inside each node: equal instance counts, predicted tar load balanced by greedy +
//      pairwise swaps, affinity kept inside GPUs as the secondary goal (gpu_packing.h);
//   4. weights for tar: the remote demand and each node's demand water-filled over the
//      instances given the other experts' predicted loads (tar_model.h).
// Deterministic for a seed (METIS's seed; every tie goes to the lower index).
#include <algorithm>

#include "grace/error.h"
#include "plan/gpu_packing.h"
#include "plan/metis_partition.h"
#include "plan/node_sets.h"
#include "plan/partition.h"
#include "plan/plan_util.h"
#include "plan/planners.h"
#include "plan/tar_model.h"

namespace grace::plan {
namespace {

constexpr double kNodeBalanceTol = 0.02;  // node load spread accepted, share of the mean

// Step 1: primary node of every expert.
std::vector<int> primary_nodes(const AffMat& a, const std::vector<double>& load, const Topology& t, int slots,
                               uint64_t seed) {
  const int E = a.n, N = t.nodes, Gn = t.gpus_per_node;
  if (N == 1) return std::vector<int>(E, 0);
  MetisOptions mo;
  mo.seed = seed;
  mo.balance_load = false;  // count only: load is balanced by swaps and replicas below
  std::vector<int> node_of = metis_partition(a, load, N, {}, mo);
  int lo = E >= t.num_gpus() ? Gn : E / N;
  fix_group_sizes(a, node_of, N, std::vector<int>(N, lo), std::vector<int>(N, Gn * slots));
  return node_of;
}

LayerPlacement plan_layer(const LayerProfile& prof, const Topology& t, int slots, uint64_t seed) {
  const int N = t.nodes, Gn = t.gpus_per_node;
  AffMat a = layer_affinity(prof);
  auto load = layer_load(prof);
  const int E = a.n;
  NodeSets s(primary_nodes(a, load, t, slots, seed), N);
  balance_nodes(a, load, s, kNodeBalanceTol, E);
  add_locality_replicas(a, load, Gn * slots, Gn, s);
  balance_nodes(a, load, s, kNodeBalanceTol, E);

  LayerPlacement lp;
  lp.experts.resize(E);
  std::vector<std::vector<int>> gpus_of(E);
  for (int n = 0; n < N; ++n) {
    std::vector<PackItem> items;
    for (int e = 0; e < E; ++e) {
      if (!s.copies[e][n]) continue;
      double per = instance_load_estimate(s, load, e, Gn)[n];
      for (int c = 0; c < s.copies[e][n]; ++c) items.push_back({e, per});
    }
    auto local = pack_node(a, items, Gn, slots);
    for (size_t i = 0; i < items.size(); ++i) gpus_of[items[i].expert].push_back(t.gpu_at(n, local[i]));
  }
  for (int e = 0; e < E; ++e) {
    auto& g = gpus_of[e];
    std::sort(g.begin(), g.end());
    // The primary is the first instance on the expert's primary node.
    auto it = std::find_if(g.begin(), g.end(), [&](int x) { return x / Gn == s.primary_node[e]; });
    GRACE_CHECK(it != g.end(), "expert {} has no instance on its primary node", e);
    std::rotate(g.begin(), it, it + 1);
    for (int x : g) lp.experts[e].instances.push_back(Instance{x, 1.0});
  }
  set_tar_weights(lp, load, N, Gn);
  return lp;
}

class GracePlanner final : public Planner {
 public:
  std::string_view name() const override { return "grace"; }
  std::string_view description() const override {
    return "grace's own, for tar + hierarchical: METIS node groups balanced by swaps, free slots filled "
           "with copies that keep tokens inside their node, balanced GPU packing, tar-aware weights";
  }

 private:
  Placement plan_impl(const PlanContext& ctx) const override {
    Placement p;
    for (int l = 0; l < ctx.profile.num_layers; ++l)
      p.layers.push_back(plan_layer(ctx.profile.layers[l], ctx.topo, ctx.slots(), ctx.options.seed));
    return p;
  }
};

}  // namespace

std::unique_ptr<Planner> make_grace_planner() { return std::make_unique<GracePlanner>(); }

}  // namespace grace::plan
