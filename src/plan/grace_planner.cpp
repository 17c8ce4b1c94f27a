// grace: the project's own planner (docs/planners.md explains the choices). Per layer:
//   1. nodes: METIS k-way partition of the (sparsified) affinity graph into equal-count parts,
//      then node capacity enforced by release / rejoin / fill;
//   2. GPUs: METIS inside each node with two constraints, load balanced and counts free up to
//      the slots, sizes then fitted to [1, slots];
//   3. every free slot used for replicas (replicate_fill): hottest per instance first, on
//      nodes that lack the expert first so their tokens stay local, with water-filled weights.
// Deterministic for a seed (METIS's seed).
#include <algorithm>

#include "grace/error.h"
#include "plan/metis_partition.h"
#include "plan/partition.h"
#include "plan/plan_util.h"
#include "plan/planners.h"
#include "plan/replication.h"

namespace grace::plan {
namespace {

class GracePlanner final : public Planner {
 public:
  std::string_view name() const override { return "grace"; }
  std::string_view description() const override {
    return "grace's own: METIS count+load balanced affinity partitions, all free slots filled "
           "with locality-first replicas, water-filled weights";
  }

 private:
  Placement plan_impl(const PlanContext& ctx) const override {
    const Topology& t = ctx.topo;
    const int L = ctx.profile.num_layers, E = ctx.profile.num_experts;
    const int N = t.nodes, Gn = t.gpus_per_node, slots = ctx.slots();
    MetisOptions mo;
    mo.seed = ctx.options.seed;
    Placement p;
    for (int l = 0; l < L; ++l) {
      AffMat a = layer_affinity(ctx.profile.layers[l]);
      auto load = layer_load(ctx.profile.layers[l]);
      // Nodes: equal expert counts, affinity cut only (a second, load constraint makes METIS
      // ~7x slower on these dense graphs; replication balances load across nodes instead).
      MetisOptions node_mo = mo;
      node_mo.balance_load = false;
      std::vector<int> node_of = metis_partition(a, load, N, {}, node_mo);
      int lo = E >= t.num_gpus() ? Gn : E / N;
      fix_group_sizes(a, node_of, N, std::vector<int>(N, lo), std::vector<int>(N, Gn * slots));
      std::vector<int> gpu_of(E, -1);
      auto groups = members_of(node_of, N);
      for (int n = 0; n < N; ++n) {
        const auto& mem = groups[n];
        AffMat sub = sub_affinity(a, mem);
        std::vector<double> sub_load(mem.size());
        for (size_t i = 0; i < mem.size(); ++i) sub_load[i] = load[mem[i]];
        MetisOptions gpu_mo = mo;
        gpu_mo.count_imbalance = std::max(1.02, double(Gn) * slots / std::max<size_t>(1, mem.size()));
        auto local = metis_partition(sub, sub_load, Gn, {}, gpu_mo);
        int glo = int(mem.size()) >= Gn ? 1 : 0;
        int ghi = std::max(slots, int((mem.size() + Gn - 1) / Gn));
        fix_group_sizes(sub, local, Gn, std::vector<int>(Gn, glo), std::vector<int>(Gn, ghi));
        for (size_t i = 0; i < mem.size(); ++i) gpu_of[mem[i]] = t.gpu_at(n, local[i]);
      }
      LayerPlacement lp = primaries_layer(gpu_of);
      replicate_fill(lp, load, N, Gn, slots);
      p.layers.push_back(std::move(lp));
    }
    return p;
  }
};

}  // namespace

std::unique_ptr<Planner> make_grace_planner() { return std::make_unique<GracePlanner>(); }

}  // namespace grace::plan
