// grace-paper: the method of ../shared/docs/method.md as published, plus the memory limits
// the paper does not state. Per layer:
//   1. nodes: spectral clustering of the affinity into N groups (fully non-uniform), then the
//      node capacity (gpus_per_node x slots) enforced and every node given at least one expert
//      per GPU, by release / rejoin / fill (the lowest-affinity experts move);
//   2. GPUs: inside each node, spectral clustering into G groups, then controlled non-uniform
//      sizes [max(1, S - delta), S + delta] (capped by slots) by release / rejoin / fill;
//      r = PlanOptions::ratio, or the knee of (S(r), U(r)) over ratio_grid() when ratio < 0
//      (one r for the whole plan: U sums the affinity kept in GPUs over all layers, S averages
//      the size spread over all (layer, node));
//   3. dynamic replication and load-predicted weights (replicate_paper), within free slots.
#include <algorithm>
#include <cmath>

#include "grace/error.h"
#include "plan/controlled_grouping.h"
#include "plan/partition.h"
#include "plan/plan_util.h"
#include "plan/planners.h"
#include "plan/replication.h"
#include "plan/spectral.h"

namespace grace::plan {
namespace {

struct NodeGroup {
  std::vector<int> members;  // expert ids of the node
  AffMat aff;                // their sub-affinity
  std::vector<int> initial;  // spectral clustering into GPUs
};

class GracePaperPlanner final : public Planner {
 public:
  std::string_view name() const override { return "grace-paper"; }
  std::string_view description() const override {
    return "GRACE-MoE as published: spectral node groups, controlled non-uniform GPU groups, "
           "dynamic replication (slots respected)";
  }

 private:
  Placement plan_impl(const PlanContext& ctx) const override {
    const Topology& t = ctx.topo;
    const int L = ctx.profile.num_layers, E = ctx.profile.num_experts;
    const int N = t.nodes, Gn = t.gpus_per_node, slots = ctx.slots();
    GRACE_INPUT_CHECK(ctx.options.ratio <= 10,
                      "plan: --ratio {} is out of range (use 0..10, or < 0 "
                      "to pick it at the knee)",
                      ctx.options.ratio);

    // Phase 1: node groups and the spectral start of every node's GPU grouping.
    std::vector<std::vector<NodeGroup>> nodes(L);
    std::vector<double> layer_total(L);
    int capacity_moves = 0;
    for (int l = 0; l < L; ++l) {
      AffMat a = layer_affinity(ctx.profile.layers[l]);
      layer_total[l] = a.total_pairs();
      std::vector<int> node_of = spectral_clustering(a, N);
      auto before = node_of;
      int lo = E >= t.num_gpus() ? Gn : E / N;
      fix_group_sizes(a, node_of, N, std::vector<int>(N, lo), std::vector<int>(N, Gn * slots));
      for (int e = 0; e < E; ++e) capacity_moves += before[e] != node_of[e];
      auto groups = members_of(node_of, N);
      for (int n = 0; n < N; ++n) {
        NodeGroup g;
        g.members = groups[n];
        g.aff = sub_affinity(a, g.members);
        g.initial = spectral_clustering(g.aff, Gn);
        nodes[l].push_back(std::move(g));
      }
    }
    if (capacity_moves > 0)
      add_note(ctx.log, fmt::format("grace-paper: {} experts moved between nodes (over all layers) to "
                                    "fit {} slots x {} GPUs per node",
                                    capacity_moves, slots, Gn));

    // Phase 2: the ratio.
    double r = ctx.options.ratio;
    if (r < 0) {
      auto grid = ratio_grid();
      std::vector<double> s(grid.size(), 0.0), u(grid.size(), 0.0);
      double total = 0;
      for (double v : layer_total) total += v;
      for (size_t i = 0; i < grid.size(); ++i) {
        double kept = 0, spread = 0;
        int count = 0;
        for (int l = 0; l < L; ++l)
          for (const auto& g : nodes[l]) {
            auto assign = controlled_grouping(g.aff, Gn, grid[i], slots, g.initial);
            kept += affinity_kept(g.aff, assign) * g.aff.total_pairs();
            spread += size_spread(assign, Gn), ++count;
          }
        u[i] = total > 0 ? kept / total : 0;
        s[i] = count > 0 ? spread / count : 0;
      }
      r = knee_ratio(grid, s, u);
      add_note(ctx.log, fmt::format("grace-paper: ratio r = {:.2f} picked at the knee of (S(r), U(r))", r));
    }

    // Phase 3: GPU groups, replication, weights.
    Placement p;
    int wanted = 0, placed = 0;
    for (int l = 0; l < L; ++l) {
      std::vector<int> gpu_of(E, -1);
      for (int n = 0; n < N; ++n) {
        const auto& g = nodes[l][n];
        auto assign = controlled_grouping(g.aff, Gn, r, slots, g.initial);
        for (size_t i = 0; i < g.members.size(); ++i) gpu_of[g.members[i]] = t.gpu_at(n, assign[i]);
      }
      LayerPlacement lp = primaries_layer(gpu_of);
      auto rep = replicate_paper(lp, layer_load(ctx.profile.layers[l]), t.num_gpus(), slots);
      wanted += rep.copies_wanted, placed += rep.copies_placed;
      p.layers.push_back(std::move(lp));
    }
    if (placed < wanted)
      add_note(ctx.log, fmt::format("grace-paper: {} of {} replica copies given up for lack of slots "
                                    "(over all layers)",
                                    wanted - placed, wanted));
    return p;
  }
};

}  // namespace

std::unique_ptr<Planner> make_grace_paper_planner() { return std::make_unique<GracePaperPlanner>(); }

}  // namespace grace::plan
