// eplb: DeepSeek's expert-parallel load balancer (github.com/deepseek-ai/EPLB), load only.
//
// With P = G x slots physical slots per layer and R = P - E redundant ones, per layer:
//   1. pack experts to nodes, E / N each, balancing load (balanced packing: heaviest first,
//      each into the lightest node that still has room);
//   2. inside each node, replicate: each of the node's P / N - E / N redundant slots goes to the
//      expert with the largest load per replica;
//   3. pack the node's physical experts (load / replicas each) to its GPUs, `slots` each,
//      with the same balanced packing.
// When E is not divisible by N the hierarchy is skipped (EPLB's global policy: the whole
// cluster as one node). ModelSpec has no expert groups, so every expert is its own group.
// Weights are equal shares among an expert's replicas, as EPLB serves them.
// Two guards EPLB does not need (it allows duplicates on one GPU): an expert gets at most one
// replica per GPU of its node, and a replica whose only room is a GPU that already holds its
// expert is dropped (logged); both can leave slots empty.
#include <algorithm>
#include <numeric>

#include "grace/error.h"
#include "plan/plan_util.h"
#include "plan/planners.h"

namespace grace::plan {
namespace {

struct Item {
  int expert;
  double weight;
};

// Balanced packing of items into `packs` packs of `cap` items each; returns the pack of each
// item or -1 when it was dropped because every pack with room already holds its expert.
std::vector<int> balanced_packing(const std::vector<Item>& items, int packs, int cap) {
  std::vector<int> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return items[a].weight > items[b].weight; });
  std::vector<double> w(packs, 0.0);
  std::vector<int> n(packs, 0), out(items.size(), -1);
  std::vector<std::vector<int>> holds(packs);
  for (int i : order) {
    int best = -1;
    for (int p = 0; p < packs; ++p) {
      if (n[p] >= cap) continue;
      if (std::find(holds[p].begin(), holds[p].end(), items[i].expert) != holds[p].end()) continue;
      if (best < 0 || w[p] < w[best]) best = p;
    }
    if (best < 0) continue;
    out[i] = best, w[best] += items[i].weight, ++n[best];
    holds[best].push_back(items[i].expert);
  }
  return out;
}

class EplbPlanner final : public Planner {
 public:
  std::string_view name() const override { return "eplb"; }
  std::string_view description() const override {
    return "DeepSeek EPLB: load-only hierarchical packing, heaviest experts replicated";
  }

 private:
  Placement plan_impl(const PlanContext& ctx) const override {
    const Topology& t = ctx.topo;
    const int E = ctx.profile.num_experts, slots = ctx.slots();
    const bool hier = t.nodes > 1 && E % t.nodes == 0;
    const int nodes = hier ? t.nodes : 1, gpus = t.num_gpus() / nodes;  // per (virtual) node
    const int phys_per_node = gpus * slots;
    Placement p;
    int dropped = 0, empty = 0;
    for (int l = 0; l < ctx.profile.num_layers; ++l) {
      auto load = layer_load(ctx.profile.layers[l]);
      // 1. experts to nodes.
      std::vector<Item> logical(E);
      for (int e = 0; e < E; ++e) logical[e] = {e, load[e]};
      auto node_of = balanced_packing(logical, nodes, E / nodes);
      LayerPlacement lp;
      lp.experts.resize(E);
      for (int m = 0; m < nodes; ++m) {
        std::vector<int> mine;
        for (int e = 0; e < E; ++e)
          if (node_of[e] == m) mine.push_back(e);
        // 2. replicate inside the node: the largest load per replica first.
        std::vector<int> cnt(mine.size(), 1);
        for (int r = int(mine.size()); r < phys_per_node; ++r) {
          int best = -1;
          for (int i = 0; i < int(mine.size()); ++i)
            if (cnt[i] < gpus && (best < 0 || load[mine[i]] / cnt[i] > load[mine[best]] / cnt[best])) best = i;
          if (best < 0) {
            empty += phys_per_node - r;
            break;
          }
          ++cnt[best];
        }
        // 3. physical experts to the node's GPUs.
        std::vector<Item> phys;
        for (int i = 0; i < int(mine.size()); ++i)
          for (int c = 0; c < cnt[i]; ++c) phys.push_back({mine[i], load[mine[i]] / cnt[i]});
        auto gpu_of = balanced_packing(phys, gpus, slots);
        for (size_t j = 0; j < phys.size(); ++j) {
          if (gpu_of[j] < 0) {
            ++dropped;
            continue;
          }
          lp.experts[phys[j].expert].instances.push_back(Instance{m * gpus + gpu_of[j], 1.0});
        }
      }
      for (int e = 0; e < E; ++e)
        GRACE_CHECK(!lp.experts[e].instances.empty(), "eplb left expert {} of layer {} unplaced", e, l);
      p.layers.push_back(std::move(lp));
    }
    if (dropped > 0 || empty > 0)
      add_note(ctx.log, fmt::format("eplb: {} replicas dropped (their GPU already held the expert), "
                                    "{} slots left empty (every expert on every GPU of its node), "
                                    "over all layers",
                                    dropped, empty));
    return p;
  }
};

}  // namespace

std::unique_ptr<Planner> make_eplb_planner() { return std::make_unique<EplbPlanner>(); }

}  // namespace grace::plan
