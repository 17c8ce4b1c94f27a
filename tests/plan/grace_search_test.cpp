// The grace planner's hypergraph search (hypergraph.h, node_refine.h with its kicks, replica_gain.h,
// replica_load.h) and the
// batch-window term of the GPU packing, on hand-computed cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "grace/evaluate.h"
#include "grace/simulate.h"
#include "grace/topology.h"
#include "plan/gpu_packing.h"
#include "plan/hypergraph.h"
#include "plan/layer_judge.h"
#include "plan/node_refine.h"
#include "plan/node_sets.h"
#include "plan/replica_gain.h"
#include "plan/replica_load.h"
#include "fixtures.h"

namespace grace::plan {
namespace {

// A hypergraph of E experts from edges given as (pins, repeat count).
Hypergraph make_hg(int E, int k, const std::vector<std::pair<std::vector<int>, int>>& edges) {
  Profile p(1, E, k);
  for (const auto& [pins, times] : edges)
    for (int r = 0; r < times; ++r) {
      p.sample.token.push_back(p.sample.size());
      p.sample.hash.push_back(0);
      for (int e : pins) p.sample.ids.push_back(expert_t(e));
    }
  p.tokens = p.sample.size();
  return layer_hypergraph(p, 0);
}

NodeRefineOptions sizes(int N, int lo, int hi, double tol = 10.0) {
  NodeRefineOptions o;
  o.min_size.assign(size_t(N), lo);
  o.max_size.assign(size_t(N), hi);
  o.load_tol = tol;
  return o;
}

TEST(Hypergraph, IncidenceAndConnectivity) {
  Hypergraph hg = make_hg(4, 2, {{{0, 1}, 2}, {{1, 2}, 1}});
  EXPECT_EQ(hg.num_edges, 3);
  EXPECT_EQ(hg.degree(0), 2);
  EXPECT_EQ(hg.degree(1), 3);
  EXPECT_EQ(hg.degree(3), 0);
  EXPECT_EQ(connectivity(hg, {0, 0, 1, 1}, 2), 2 + 2);  // {0,1} twice on one node, {1,2} on two
  EXPECT_EQ(connectivity(hg, {0, 1, 1, 0}, 2), 4 + 1);
  // Strided subset: at most 2 of the 3 edges, in order.
  Profile p(1, 4, 2);
  for (int t = 0; t < 3; ++t) {
    p.sample.token.push_back(t), p.sample.hash.push_back(0);
    p.sample.ids.push_back(expert_t(t)), p.sample.ids.push_back(expert_t(3));
  }
  p.tokens = 3;
  Hypergraph sub = layer_hypergraph(p, 0, 2);
  EXPECT_EQ(sub.num_edges, 2);
  EXPECT_DOUBLE_EQ(sub.scale, 1.5);
  EXPECT_EQ(sub.edge(1)[0], 1);
}

TEST(NodeRefine, SwapsFixedSizeNodesToTheOptimum) {
  // {0,1} x5 and {2,3} x5 belong together; the start splits both pairs. Sizes are fixed (2 and
  // 2), so only swaps help: sum lambda 21 -> 12.
  Hypergraph hg = make_hg(4, 2, {{{0, 1}, 5}, {{2, 3}, 5}, {{0, 2}, 1}});
  std::vector<int> node_of = {0, 1, 0, 1};
  std::vector<double> load = {1, 1, 1, 1};
  EXPECT_EQ(connectivity(hg, node_of, 2), 21);
  EXPECT_EQ(refine_nodes(hg, load, 2, sizes(2, 2, 2), node_of), 9);
  EXPECT_EQ(connectivity(hg, node_of, 2), 12);
  EXPECT_EQ(node_of[0], node_of[1]);
  EXPECT_EQ(node_of[2], node_of[3]);
  EXPECT_NE(node_of[0], node_of[2]);
}

TEST(NodeRefine, ClaimedGainEqualsTheRealDropOnRandomHypergraphs) {
  // The search keeps move gains incrementally: the reduction it reports must be exactly what
  // the connectivity lost, on instances where many moves and swaps happen.
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    const int E = 12, k = 3, N = 3;
    std::vector<std::pair<std::vector<int>, int>> edges;
    for (int h = 0; h < 60; ++h) {
      std::vector<int> pins;
      while (int(pins.size()) < k) {
        const int e = int(rng() % E);
        if (std::find(pins.begin(), pins.end(), e) == pins.end()) pins.push_back(e);
      }
      edges.push_back({pins, 1});
    }
    Hypergraph hg = make_hg(E, k, edges);
    std::vector<int> node_of(E);
    for (int e = 0; e < E; ++e) node_of[e] = e % N;
    std::vector<double> load(E, 1.0);
    const int64_t before = connectivity(hg, node_of, N);
    const int64_t claimed = refine_nodes(hg, load, N, sizes(N, 2, 6), node_of);
    EXPECT_EQ(before - connectivity(hg, node_of, N), claimed) << "seed " << seed;
    EXPECT_GT(claimed, 0) << "seed " << seed;
  }
}

TEST(NodeRefine, LoadLimitBlocksAGainingMove) {
  // Moving 1 next to 0 gains, but would put 3 of 4 load units on node 0 (limit: mean x 1.2).
  Hypergraph hg = make_hg(4, 2, {{{0, 1}, 5}});
  std::vector<int> node_of = {0, 1, 0, 1};
  std::vector<double> load = {1, 1, 1, 1};
  refine_nodes(hg, load, 2, sizes(2, 1, 3, 0.2), node_of);
  // A swap of 1 and 2 keeps the loads equal and wins the same.
  EXPECT_EQ(node_of[0], node_of[1]);
  EXPECT_EQ((node_of[0] == 0) + (node_of[1] == 0) + (node_of[2] == 0) + (node_of[3] == 0), 2);
}

TEST(NodeRefine, RebalanceBringsNodesUnderTheLimit) {
  Hypergraph hg = make_hg(4, 2, {{{0, 1}, 3}, {{2, 3}, 3}});
  std::vector<int> node_of = {0, 0, 1, 1};
  std::vector<double> load = {40, 30, 20, 10};  // 70 vs 30, limit 55
  EXPECT_GT(rebalance_nodes(hg, load, 2, sizes(2, 1, 3, 0.1), node_of), 0);
  double n0 = 0, n1 = 0;
  for (int e = 0; e < 4; ++e) (node_of[e] == 0 ? n0 : n1) += load[e];
  EXPECT_LE(std::max(n0, n1), 55.0);
}

// Hyperedges drawn mostly inside 4 planted groups of E / 4 experts (tests/plan/fixtures.h: expert
// e in group e % 4, so the start e / (E / 4) splits every group).
Hypergraph planted_hg(uint32_t seed, int E, int k, int edges, double inside) {
  testing::ProfileSpec ps;
  ps.layers = 1, ps.experts = E, ps.top_k = k, ps.tokens = edges, ps.clusters = 4, ps.in_cluster = inside;
  ps.seed = seed;
  return layer_hypergraph(testing::make_profile(ps), 0);
}

TEST(NodeKicks, NeverWorseWithinSizesAndLoadLimitAndDeterministic) {
  // From the local optimum moves and swaps reach, the kicks keep node sizes in their bounds and
  // the heaviest node within the limit, never raise sum lambda, report exactly what they cut,
  // and give the same split for the same seed.
  const int E = 32, k = 4, N = 4;
  int improved = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    Hypergraph hg = planted_hg(seed, E, k, 400, 0.5);
    std::vector<double> load(E);
    for (int e = 0; e < E; ++e) load[e] = 1 + (e * 7 + int(seed)) % 5;
    const NodeRefineOptions opt = sizes(N, E / N - 1, E / N + 1, 0.10);
    std::vector<int> node_of(E);
    for (int e = 0; e < E; ++e) node_of[e] = e / (E / N);
    rebalance_nodes(hg, load, N, opt, node_of);
    refine_nodes(hg, load, N, opt, node_of);
    const int64_t before = connectivity(hg, node_of, N);
    std::vector<int> again = node_of;
    const int64_t cut = kick_refine_nodes(hg, load, N, opt, 20, 3, seed, node_of);
    EXPECT_EQ(kick_refine_nodes(hg, load, N, opt, 20, 3, seed, again), cut) << "seed " << seed;
    EXPECT_EQ(again, node_of) << "seed " << seed;
    EXPECT_GE(cut, 0);
    EXPECT_EQ(before - connectivity(hg, node_of, N), cut) << "seed " << seed;
    improved += cut > 0;
    std::vector<int> size(N, 0);
    std::vector<double> nl(N, 0.0);
    double total = 0;
    for (int e = 0; e < E; ++e) ++size[node_of[e]], nl[node_of[e]] += load[e], total += load[e];
    for (int n = 0; n < N; ++n) {
      EXPECT_GE(size[n], E / N - 1);
      EXPECT_LE(size[n], E / N + 1);
      EXPECT_LE(nl[n], total / N * 1.10 + 1e-9) << "seed " << seed << " node " << n;
    }
  }
  // The search alone stops in local optima the kicks leave.
  EXPECT_GE(improved, 3);
}

TEST(NodeKicks, FindThePlantedSplitMoreOftenThanTheSearchAlone) {
  // Four planted groups at fixed sizes: over 12 instances, the search with kicks reaches a sum
  // lambda at least as low as the planted split's more often than the search alone, and never
  // ends above it on average.
  const int E = 32, k = 4, N = 4;
  int alone = 0, kicked = 0;
  double sum_alone = 0, sum_kicked = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    Hypergraph hg = planted_hg(100 + seed, E, k, 300, 0.9);
    const std::vector<double> load(E, 1.0);
    const NodeRefineOptions opt = sizes(N, E / N, E / N, 1e9);
    std::vector<int> planted(E), node_of(E);
    for (int e = 0; e < E; ++e) planted[e] = e % 4, node_of[e] = e / (E / N);
    const int64_t target = connectivity(hg, planted, N);
    refine_nodes(hg, load, N, opt, node_of);
    const int64_t a = connectivity(hg, node_of, N);
    kick_refine_nodes(hg, load, N, opt, 20, 3, seed, node_of);
    const int64_t b = connectivity(hg, node_of, N);
    alone += a <= target, kicked += b <= target;
    sum_alone += double(a) / target, sum_kicked += double(b) / target;
  }
  EXPECT_GT(kicked, alone);
  EXPECT_LT(sum_kicked, sum_alone);
}

TEST(ReplicaGain, CopiesThatCompleteTheMostTokensFirstAndGainsUpdate) {
  // Experts 0-3 live on node 0, 4-7 on node 1. From node 0's side: {0,4} x1 needs node 1 for 4
  // alone (gain 1); {0,4,5} x6 needs 4 and 5 (no single copy helps) until 4 is copied, then 5
  // completes 6 tokens. Node 1 has no free slot.
  Hypergraph hg = make_hg(8, 3, {{{0, 4, 1}, 1}, {{0, 4, 5}, 6}});
  NodeSets s({0, 0, 0, 0, 1, 1, 1, 1}, 2);
  EXPECT_EQ(add_gain_replicas(hg, {2, 0}, s), 2);
  EXPECT_EQ(s.copies[4][0], 1);
  EXPECT_EQ(s.copies[5][0], 1);
  EXPECT_EQ(s.node_count(1), 4);
  // No copy saves anything any more: the third slot stays free for the caller.
  NodeSets t({0, 0, 0, 0, 1, 1, 1, 1}, 2);
  EXPECT_EQ(add_gain_replicas(hg, {3, 0}, t), 2);
}

TEST(ReplicaGain, EachNodeSavesItsOwnTokens) {
  // {0,4} x10: node 0 lacks 4, node 1 lacks 0; {2,7} x3 likewise. One slot each: 4 on node 0,
  // 0 on node 1.
  Hypergraph hg = make_hg(8, 2, {{{0, 4}, 10}, {{2, 7}, 3}});
  NodeSets s({0, 0, 0, 0, 1, 1, 1, 1}, 2);
  EXPECT_EQ(add_gain_replicas(hg, {1, 1}, s), 2);
  EXPECT_EQ(s.copies[4][0], 1);
  EXPECT_EQ(s.copies[0][1], 1);
  EXPECT_EQ(s.copies[7][0], 0);
}

TEST(GpuPacking, WindowsSeparateExpertsThatPeakInTheSameBatches) {
  // Equal whole-trace loads, so any 2 + 2 split looks balanced; experts 0 and 2 carry all of
  // window 0, 1 and 3 all of window 1. Greedy puts 0 and 2 together; the window term parts them.
  AffMat a;
  a.n = 4;
  a.v.assign(16, 0.0);
  std::vector<PackItem> items = {{0, 10, {20, 0}}, {1, 10, {0, 20}}, {2, 10, {20, 0}}, {3, 10, {0, 20}}};
  PackOptions po;
  po.windows = 2;
  auto gpu = pack_node(a, items, 2, 2, po);
  EXPECT_NE(gpu[0], gpu[2]);
  EXPECT_NE(gpu[1], gpu[3]);
}

}  // namespace
}  // namespace grace::plan

namespace grace::plan {
namespace {

TEST(LayerJudge, SplitExpertsCostMoreTimeThanCoLocatedOnes) {
  // 4 experts on 2x1 GPUs, tokens choose {0, 1} or {2, 3}: with each pair on one GPU only the
  // tokens of the other node cross; with the pairs split every token crosses (compute is even
  // either way).
  Hypergraph hg = make_hg(4, 2, {{{0, 1}, 256}, {{2, 3}, 256}});
  ModelSpec m = generic_model(1, 4, 2);
  Topology t = parse_topology("2x1");
  auto layer = [](std::vector<int> gpu_of) {
    LayerPlacement lp;
    for (int g : gpu_of) lp.experts.push_back(ExpertPlacement{{Instance{g, 1.0}}});
    return lp;
  };
  const double together = judge_layer(layer({0, 0, 1, 1}), hg, t, m, 2, JudgeOptions{});
  const double apart = judge_layer(layer({0, 1, 0, 1}), hg, t, m, 2, JudgeOptions{});
  EXPECT_GT(together, 0);
  EXPECT_GT(apart, together);
}

// With sequences, the judge replays the sample as the evaluator replays the traffic: sequences
// pinned to GPUs, batch_tokens / scale rows per batch. Two sequences, one per pair of experts,
// each pair on its own GPU: pinned by sequence no token crosses; spread evenly (no sequences
// recorded) every other token does.
TEST(LayerJudge, ReplaysTheSampleInTheEvaluatorsBatches) {
  Hypergraph hg = make_hg(4, 2, {{{0, 1}, 600}, {{2, 3}, 600}});
  hg.seq_offsets = {0, 600, 1200};
  hg.scale = 2;  // each row stands for two tokens: batches of 2,048 tokens are 1,024 rows
  ModelSpec m = generic_model(1, 4, 2);
  Topology t = parse_topology("2x1");
  LayerPlacement lp;
  for (int g : {0, 0, 1, 1}) lp.experts.push_back(ExpertPlacement{{Instance{g, 1.0}}});
  const JudgeOptions batches{2048, Batching::kTrace};
  const double judged = judge_layer(lp, hg, t, m, 2, batches);

  Trace tr;
  tr.num_layers = 1, tr.top_k = 2, tr.num_experts = 4;
  tr.ids.assign(hg.pins.begin(), hg.pins.end());
  tr.seq_offsets = {0, 600, 1200};
  Placement p;
  p.model = m.name, p.policy = "grace", p.num_layers = 1, p.num_experts = 4;
  p.nodes = 2, p.gpus_per_node = 1, p.slots_per_gpu = 2, p.layers = {lp};
  EvalOptions eo;
  eo.batch_tokens = 1024;
  eo.router = "cover";
  const EvalResult e = evaluate(tr, p, t, m, eo);
  EXPECT_EQ(e.total.inter_copies, 0);
  EXPECT_DOUBLE_EQ(judged, simulate(e, t, m).mean_layer.total_us);

  Hypergraph even = hg;
  even.seq_offsets.clear();
  EXPECT_GT(judge_layer(lp, even, t, m, 2, batches), judged);
}

// The load rule, by hand: 3 nodes, loads 60, 30, 6, 3 (experts 0-3), one expert per node at
// first (0 on n0, 1 on n1, 2 and 3 on n2). Node estimates (own third + share of the nodes
// without it): n0 = 60, n1 = 30, n2 = 9. Slot 1: expert 0 (60 per hosting node) to n2, the
// lightest. Now 0 is on 2 nodes (30 per node) and 1 has 30 on one: tie -> lower index, 0 again,
// to n1 (the only node left lacking it). Then 1 (30) to n2 if n2 has room, else n0.
TEST(GraceSearch, LoadReplicasGoToTheHottestExpertOnTheLightestNode) {
  const std::vector<double> load{60, 30, 6, 3};
  NodeSets s({0, 1, 2, 2}, 3);
  EXPECT_EQ(add_load_replicas(load, {1, 1, 1}, s), 3);
  EXPECT_EQ(s.copies[0], (std::vector<int>{1, 1, 1}));  // hottest on every node
  EXPECT_EQ(s.copies[1], (std::vector<int>{1, 1, 0}));  // n2 was full: the one slot left, n0
  EXPECT_EQ(s.copies[2], (std::vector<int>{0, 0, 1}));
  NodeSets t({0, 1, 2, 2}, 3);
  EXPECT_EQ(add_load_replicas(load, {0, 0, 1}, t), 1);  // only n2 has room
  EXPECT_EQ(t.copies[0], (std::vector<int>{1, 0, 1}));
  NodeSets u({0, 1, 2, 2}, 3);
  EXPECT_EQ(add_load_replicas(load, {5, 5, 5}, u), 8);  // every node gets every expert, no more
  for (int e = 0; e < 4; ++e) EXPECT_EQ(u.hosting_nodes(e), 3);
  // Loads 60, 50, 6, 3, room on n1 and n2: 0 goes to n2 (estimate 9, lighter than n1's 50);
  // then 1 (50 per node) finds no room where it is missing, and 0 takes n1.
  const std::vector<double> load2{60, 50, 6, 3};
  NodeSets v({0, 1, 2, 2}, 3);
  EXPECT_EQ(add_load_replicas(load2, {0, 1, 1}, v), 2);
  EXPECT_EQ(v.copies[0], (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(v.copies[1], (std::vector<int>{0, 1, 0}));
}

}  // namespace
}  // namespace grace::plan
