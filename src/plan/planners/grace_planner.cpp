// grace: the project's own planner (docs/planners.md explains the objective and the search), for
// hierarchical communication with a locality-first router (`cover`, or `tar`). Per layer, on the
// sampled tokens of the profile seen as a hypergraph (hypergraph.h):
//   1. nodes: the best of two starting splits (METIS on the affinity graph, and the equal-size
//      affinity split that uniform-affinity uses) by the real objective, the number of nodes a
//      token's experts sit on, then local search on that objective by moves and swaps under
//      node size and load limits (node_refine.h);
//   2. replicas, by one of two rules: every free slot of a node to the copy that saves the most
//      node visits of the node's own tokens, by exact gain (replica_gain.h), or every free slot
//      to the expert with the most load per hosting node, on the least loaded node lacking it
//      (EPLB's rule at node level: hot experts everywhere keep nodes even when the traffic mix
//      shifts); slots left over go to second copies of a node's most loaded instances;
//   3. GPUs inside each node: equal instance counts, predicted load balanced by greedy + pairwise
//      swaps, affinity kept inside GPUs as the secondary goal (gpu_packing.h);
//   4. weights for tar: water-filled over the instances (tar_model.h).
// Per layer, each node split (three node load limits) is built with both replica rules and the
// simulator (layer_judge.h) keeps the fastest, on the sample replayed in the batches the plan will
// serve (PlanOptions::batching, batch_tokens) through the router it will be served with
// (PlanOptions::target_router). For a router that does not prefer the token's own node (SGLang's
// dispatch), a third rule keeps every replica on its expert's home node (step 2b alone).
// Layers are planned in parallel (one thread per core); the result does not depend on the
// thread count. Deterministic for a seed (METIS's seed; every tie goes to the lower index).
#include <algorithm>
#include <atomic>
#include <iterator>
#include <thread>

#include "grace/error.h"
#include "grace/router.h"
#include "plan/gpu_packing.h"
#include "plan/hypergraph.h"
#include "plan/layer_judge.h"
#include "plan/metis_partition.h"
#include "plan/node_refine.h"
#include "plan/node_sets.h"
#include "plan/partition.h"
#include "plan/plan_util.h"
#include "plan/planners.h"
#include "plan/replica_gain.h"
#include "plan/replica_load.h"
#include "plan/tar_model.h"

namespace grace::plan {
namespace {

// Node load limits tried per layer (primaries' node load over the mean), tightest first: the tighter
// keeps NICs and GPUs even, the looser keeps more tokens home, and the last is no limit at all (the
// split of least connectivity the search finds); the simulator judges which is faster here.
constexpr double kNodeLoadTols[] = {0.10, 0.50, 1e9};
// A split made under a looser limit replaces the best so far only when the judge finds it this
// much faster: the judge replays a sample, and on unseen traffic the more even split is the safer
// of two that tie (on the planner matrix, 2026-12-01: 0 / 1% / 2% gave held-out time 1.0961 /
// 1.0967 / 1.0956x the best baseline and load max/mean 1.023 / 1.015 / 1.013x eplb/wrr/flat's).
constexpr double kLooserSplitMargin = 0.01;

// Tokens of a batch window for the GPU packing's batch-level balance.
constexpr double kWindowTokens = 1024;

// Affinity weight of the GPU packing inside a node: negative, so co-activated experts are spread
// over the node's GPUs. With hierarchical communication a token reaches the node once, so where
// its experts sit inside the node moves only NVLink copies, while the GPU's load is the sum of
// its experts' loads: experts that peak together (high affinity, high covariance) on one GPU
// make it the slowest GPU whenever their cluster lights up, above all on traffic the plan has
// not seen (a held-out task shifts load along co-activation clusters). Spreading them lowers
// that variance; the window term does the same for the in-sample batch windows.
constexpr double kGpuAffinityWeight = -1.0;

// Sampled pins per layer the search works on (cost grows linearly with them).
constexpr int kMaxPins = 65536;

// Step 1a: the starting split (primary node of every expert).
std::vector<int> start_nodes(const Hypergraph& hg, const AffMat& a, const std::vector<double>& load, const Topology& t,
                             int slots, uint64_t seed) {
  const int E = a.n, N = t.nodes, C = t.gpus_per_node * slots;
  if (N == 1) return std::vector<int>(E, 0);
  std::vector<int> even(N, E / N);
  for (int n = 0; n < E % N; ++n) ++even[n];
  // Candidate A: METIS (count constraint only), sizes brought into [even, capacity].
  MetisOptions mo;
  mo.seed = seed;
  mo.balance_load = false;
  std::vector<int> metis = metis_partition(a, load, N, {}, mo);
  fix_group_sizes(a, metis, N, even, std::vector<int>(N, C));
  // Candidate B: equal sizes, most pairwise affinity inside.
  std::vector<int> equal = partition_fixed_sizes(a, even);
  return hg.num_edges > 0 && connectivity(hg, metis, N) < connectivity(hg, equal, N) ? metis : equal;
}

// Step 1b: node loads within (1 + tol) x mean, then the search on the nodes tokens visit; one
// split per limit in `tols` (the rebalancing steps are shared: only where they stop depends on
// the limit).
std::vector<std::vector<int>> primary_nodes(const std::vector<int>& start, const Hypergraph& hg,
                                            const std::vector<double>& load, const Topology& t, int slots,
                                            const std::vector<double>& tols) {
  const int E = int(load.size()), N = t.nodes, C = t.gpus_per_node * slots;
  if (N == 1) return std::vector<std::vector<int>>(tols.size(), start);
  std::vector<int> even(N, E / N);
  for (int n = 0; n < E % N; ++n) ++even[n];
  NodeRefineOptions ro;
  const int spare = std::max(0, C - even[0]);
  for (int n = 0; n < N; ++n) {
    ro.min_size.push_back(std::max(1, even[n] - spare));
    ro.max_size.push_back(std::min(C, even[n] + spare));
  }
  std::vector<std::vector<int>> splits = rebalance_nodes_each(hg, load, N, ro, tols, start);
  for (size_t i = 0; i < tols.size(); ++i) {
    ro.load_tol = tols[i];
    refine_nodes(hg, load, N, ro, splits[i]);
  }
  return splits;
}

// Step 2b: slots nothing can save traffic with hold second copies of the node's most loaded
// instances (at most one copy of an expert per GPU).
void add_balance_replicas(const std::vector<double>& load, int cap, int max_in_node, NodeSets& s) {
  const int E = int(load.size());
  for (int n = 0; n < s.nodes; ++n) {
    int room = cap - s.node_count(n);
    while (room > 0) {
      int best = -1;
      double best_v = -1;
      for (int e = 0; e < E; ++e) {
        if (s.copies[e][n] == 0 || s.copies[e][n] >= max_in_node) continue;
        const double v = instance_load_at(s, load, e, n);
        if (v > best_v) best_v = v, best = e;
      }
      if (best < 0) break;
      ++s.copies[best][n];
      --room;
    }
  }
}

// Which rule fills the free slots (step 2); the simulator judges which is faster per layer.
// kHome: none of step 2a, every free slot to step 2b (second copies inside the expert's node).
enum class ReplicaRule { kGain, kLoad, kHome };

// Steps 2-4 for one node split.
LayerPlacement build_layer(const std::vector<int>& node_of, const Hypergraph& hg, const AffMat& a,
                           const std::vector<double>& load, const Topology& t, int slots, ReplicaRule rule) {
  const int N = t.nodes, Gn = t.gpus_per_node, C = Gn * slots;
  const int E = a.n;
  NodeSets s(node_of, N);
  std::vector<int> free_slots(N);
  for (int n = 0; n < N; ++n) free_slots[n] = C - s.node_count(n);
  if (rule == ReplicaRule::kLoad)
    add_load_replicas(load, free_slots, s);
  else if (rule == ReplicaRule::kGain)
    add_gain_replicas(hg, free_slots, s);
  add_balance_replicas(load, C, Gn, s);

  LayerPlacement lp;
  lp.experts.resize(E);
  std::vector<std::vector<int>> gpus_of(E);
  // Batch windows of the sample: each expert's tokens per window, scaled like `load`.
  PackOptions po;
  po.affinity_weight = kGpuAffinityWeight;
  std::vector<double> wl;  // [E][W]
  const int window = std::max(1, int(kWindowTokens / hg.scale));
  po.windows = hg.num_edges >= 4 * window ? hg.num_edges / window : 0;
  if (po.windows > 0) {
    wl.assign(size_t(E) * po.windows, 0.0);
    for (int h = 0; h < po.windows * window; ++h)
      for (int j = 0; j < hg.k; ++j) wl[size_t(hg.edge(h)[j]) * po.windows + h / window] += 1.0;
    for (int e = 0; e < E; ++e) {
      double sum = 0;
      for (int w = 0; w < po.windows; ++w) sum += wl[size_t(e) * po.windows + w];
      const double f = sum > 0 ? load[e] / sum : 0.0;  // window shares of e's planned load
      for (int w = 0; w < po.windows; ++w) wl[size_t(e) * po.windows + w] *= f * po.windows;
    }
  }
  for (int n = 0; n < N; ++n) {
    std::vector<PackItem> items;
    for (int e = 0; e < E; ++e) {
      if (!s.copies[e][n]) continue;
      const double per = instance_load_estimate(s, load, e, Gn)[n];
      PackItem it{e, per, {}};
      if (po.windows > 0) {
        const double share = load[e] > 0 ? per / load[e] : 0.0;
        for (int w = 0; w < po.windows; ++w) it.window_load.push_back(share * wl[size_t(e) * po.windows + w]);
      }
      for (int c = 0; c < s.copies[e][n]; ++c) items.push_back(it);
    }
    auto local = pack_node(a, items, Gn, slots, po);
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

LayerPlacement plan_layer(const Profile& profile, int layer, const Topology& t, const ModelSpec& m, int slots,
                          uint64_t seed, const std::vector<double>& tols, const JudgeOptions& judge) {
  const LayerProfile& prof = profile.layers[size_t(layer)];
  AffMat a = layer_affinity(prof);
  auto load = layer_load(prof);
  Hypergraph hg = layer_hypergraph(profile, layer, kMaxPins / profile.top_k);
  const std::vector<int> start = start_nodes(hg, a, load, t, slots, seed);
  if (t.nodes == 1 || hg.num_edges == 0) return build_layer(start, hg, a, load, t, slots, ReplicaRule::kGain);
  LayerPlacement best;
  double best_us = 0;
  std::vector<int> prev;
  int best_split = -1, split = -1;  // candidates' node splits, tightest limit first
  std::vector<ReplicaRule> rules{ReplicaRule::kGain, ReplicaRule::kLoad};
  if (!router_prefers_own_node(judge.router)) rules.push_back(ReplicaRule::kHome);
  for (std::vector<int>& nodes : primary_nodes(start, hg, load, t, slots, tols)) {
    ++split;
    if (nodes == prev) continue;  // the looser limit changed nothing
    for (ReplicaRule rule : rules) {
      LayerPlacement lp = build_layer(nodes, hg, a, load, t, slots, rule);
      const double us = judge_layer(lp, hg, t, m, slots, judge);
      const double need = split > best_split ? best_us * (1 - kLooserSplitMargin) : best_us;
      if (best.experts.empty() || us < need) best = std::move(lp), best_us = us, best_split = split;
    }
    prev = std::move(nodes);
  }
  return best;
}

class GracePlanner final : public Planner {
 public:
  std::string_view name() const override { return "grace"; }
  std::string_view description() const override {
    return "grace's own, for hierarchical communication with cover/tar routing: node sets by local search on "
           "the nodes each token visits, replicas by exact traffic gain, balanced GPU packing";
  }

 private:
  Placement plan_impl(const PlanContext& ctx) const override {
    const int L = ctx.profile.num_layers, slots = ctx.slots();
    const std::vector<double> tols = ctx.options.node_load_limit >= 0
                                         ? std::vector<double>{ctx.options.node_load_limit}
                                         : std::vector<double>(std::begin(kNodeLoadTols), std::end(kNodeLoadTols));
    check_router_name(ctx.options.target_router, "--target");
    const JudgeOptions judge{ctx.options.batch_tokens, ctx.options.batching, ctx.options.target_router};
    Placement p;
    p.layers.resize(size_t(L));
    std::atomic<int> next{0};
    std::exception_ptr failure;
    std::atomic<bool> failed{false};
    auto work = [&] {
      for (int l = next++; l < L && !failed; l = next++) {
        try {
          p.layers[size_t(l)] = plan_layer(ctx.profile, l, ctx.topo, ctx.model, slots, ctx.options.seed, tols, judge);
        } catch (...) {
          if (!failed.exchange(true)) failure = std::current_exception();
        }
      }
    };
    const int threads = std::clamp(int(std::thread::hardware_concurrency()), 1, std::min(L, 16));
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(work);
    work();
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
    return p;
  }
};

}  // namespace

std::unique_ptr<Planner> make_grace_planner() { return std::make_unique<GracePlanner>(); }

}  // namespace grace::plan
