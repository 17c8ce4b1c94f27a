// The grace planner's building blocks: the tar load model and tar-aware weights and in-node GPU
// packing. Hand-computed cases. The hypergraph search is in grace_search_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>

#include "fixtures.h"
#include "grace/planner.h"
#include "grace/topology.h"
#include "plan/gpu_packing.h"
#include "plan/node_sets.h"
#include "plan/plan_util.h"
#include "plan/tar_model.h"

namespace grace::plan {
namespace {

ExpertPlacement expert(std::vector<Instance> ins) {
  ExpertPlacement e;
  e.instances = std::move(ins);
  return e;
}

AffMat zeros(int n) {
  AffMat a;
  a.n = n;
  a.v.assign(size_t(n) * n, 0.0);
  return a;
}

void set_aff(AffMat& a, int i, int j, double v) { a.at(i, j) = a.at(j, i) = v; }

TEST(TarModel, PredictsOwnGpuThenNodeThenRemoteByWeight) {
  // 2 nodes x 2 GPUs; every GPU asks each expert for load / 4 tokens.
  LayerPlacement lp;
  lp.experts = {expert({{0, 0.5}, {2, 0.5}}),     // one instance per node: each keeps its node
                expert({{1, 1.0}}),               // single instance: everything
                expert({{0, 0.75}, {1, 0.25}})};  // both on node 0: node 1's demand by weight
  std::vector<double> load = {40, 40, 40};
  auto r = tar_instance_load(lp, load, 2, 2);
  EXPECT_DOUBLE_EQ(r[0][0], 20);
  EXPECT_DOUBLE_EQ(r[0][1], 20);
  EXPECT_DOUBLE_EQ(r[1][0], 40);
  EXPECT_DOUBLE_EQ(r[2][0], 10 + 20 * 0.75);
  EXPECT_DOUBLE_EQ(r[2][1], 10 + 20 * 0.25);
  auto g = tar_gpu_load(lp, load, 2, 2);
  EXPECT_DOUBLE_EQ(g[0], 20 + 25);
  EXPECT_DOUBLE_EQ(g[1], 40 + 15);
  EXPECT_DOUBLE_EQ(g[2], 20);
  EXPECT_DOUBLE_EQ(g[3], 0);
  EXPECT_DOUBLE_EQ(std::accumulate(g.begin(), g.end(), 0.0), 120);
}

TEST(TarModel, WeightsSendTheNodeDemandToTheLighterGpu) {
  // 1 node x 3 GPUs. Expert 0 (90) on GPUs 0 and 1, expert 1 (60) on GPU 0. GPU 2's 30 tokens
  // for expert 0 should all go to GPU 1: loads 90 / 60 instead of 105 / 45.
  LayerPlacement lp;
  lp.experts = {expert({{0, 0.5}, {1, 0.5}}), expert({{0, 1.0}})};
  std::vector<double> load = {90, 60};
  set_tar_weights(lp, load, 1, 3);
  const auto& ins = lp.experts[0].instances;
  EXPECT_GT(ins[1].weight / (ins[0].weight + ins[1].weight), 0.99);
  auto g = tar_gpu_load(lp, load, 1, 3);
  EXPECT_NEAR(g[0], 90, 0.5);
  EXPECT_NEAR(g[1], 60, 0.5);
  for (const auto& e : lp.experts)
    for (const auto& in : e.instances) EXPECT_GT(in.weight, 0);
}

TEST(TarModel, WeightsSpreadTheRemoteDemandOverHostingNodes) {
  // 3 nodes x 1 GPU. Expert 0 (90) on GPUs 0 and 1, expert 1 (30) on GPU 0. Node 2's 30 tokens
  // for expert 0 should go to GPU 1: 60 / 60.
  LayerPlacement lp;
  lp.experts = {expert({{0, 0.5}, {1, 0.5}}), expert({{0, 1.0}})};
  std::vector<double> load = {90, 30};
  set_tar_weights(lp, load, 3, 1);
  auto g = tar_gpu_load(lp, load, 3, 1);
  EXPECT_NEAR(g[0], 60, 0.5);
  EXPECT_NEAR(g[1], 60, 0.5);
  EXPECT_NEAR(g[2], 0, 1e-9);
}

TEST(GpuPacking, EqualCountsBalancedLoadsNoDuplicateOnAGpu) {
  AffMat a = zeros(10);
  std::vector<PackItem> items;
  for (int e = 0; e < 10; ++e) items.push_back({e, double(10 + 3 * e), {}});
  items.push_back({9, 39, {}});  // a second copy of expert 9
  items.push_back({8, 34, {}});
  auto gpu = pack_node(a, items, 4, 3);
  std::vector<int> count(4, 0);
  std::vector<double> load(4, 0.0);
  std::set<std::pair<int, int>> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_GE(gpu[i], 0);
    ASSERT_LT(gpu[i], 4);
    ++count[gpu[i]], load[gpu[i]] += items[i].load;
    EXPECT_TRUE(seen.insert({gpu[i], items[i].expert}).second) << "two copies of one expert on a GPU";
  }
  for (int c : count) EXPECT_EQ(c, 3);
  auto [lo, hi] = std::minmax_element(load.begin(), load.end());
  EXPECT_LE(*hi - *lo, 6.0) << "loads " << load[0] << " " << load[1] << " " << load[2] << " " << load[3];
}

TEST(GpuPacking, ManyCopiesOfLightExpertsStillFit) {
  // Three copies each of two light experts and three heavy singles on 3 GPUs x 3 slots: a
  // heaviest-first order would leave the last copies only GPUs that already hold them.
  AffMat a = zeros(5);
  std::vector<PackItem> items = {{0, 30, {}}, {1, 29, {}}, {2, 28, {}}, {3, 1, {}}, {3, 1, {}},
                                 {3, 1, {}},  {4, 1, {}},  {4, 1, {}},  {4, 1, {}}};
  auto gpu = pack_node(a, items, 3, 3);
  std::set<std::pair<int, int>> seen;
  for (size_t i = 0; i < items.size(); ++i)
    EXPECT_TRUE(seen.insert({gpu[i], items[i].expert}).second) << "two copies of one expert on a GPU";
  std::vector<double> load(3, 0.0);
  for (size_t i = 0; i < items.size(); ++i) load[gpu[i]] += items[i].load;
  auto [lo, hi] = std::minmax_element(load.begin(), load.end());
  EXPECT_LE(*hi - *lo, 2.0);
}

TEST(GpuPacking, KeepsAffinePairsTogetherWhenLoadsAreEqual) {
  AffMat a = zeros(8);
  for (int i = 0; i < 4; ++i) set_aff(a, i, i + 4, 100);  // pairs (0,4) (1,5) (2,6) (3,7)
  set_aff(a, 0, 1, 1);
  std::vector<PackItem> items;
  for (int e = 0; e < 8; ++e) items.push_back({e, 10, {}});
  auto gpu = pack_node(a, items, 4, 2);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(gpu[i], gpu[i + 4]) << "pair " << i;
}

// The packing's objective (gpu_packing.h), computed from scratch: load term, minus the affinity
// kept inside GPUs (weighted), plus the window term.
double pack_objective(const AffMat& a, const std::vector<PackItem>& items, const std::vector<int>& gpu, int G,
                      const PackOptions& po) {
  const int m = int(items.size()), W = po.windows;
  std::vector<double> L(size_t(G), 0.0), LW(size_t(G) * W, 0.0);
  double total_aff = 0, kept = 0;
  for (int x = 0; x < m; ++x) {
    L[size_t(gpu[x])] += items[x].load;
    for (int w = 0; w < W; ++w) LW[size_t(gpu[x]) * W + w] += items[x].window_load[size_t(w)];
    for (int y = x + 1; y < m; ++y) {
      total_aff += a(items[x].expert, items[y].expert);
      if (gpu[x] == gpu[y]) kept += a(items[x].expert, items[y].expert);
    }
  }
  const double mean = std::accumulate(L.begin(), L.end(), 0.0) / G;
  double j = 0;
  for (double v : L) j += (v - mean) * (v - mean) / (mean * mean);
  j -= po.affinity_weight * kept / total_aff;
  for (int w = 0; w < W; ++w) {
    double wm = 0;
    for (int g = 0; g < G; ++g) wm += LW[size_t(g) * W + w] / G;
    for (int g = 0; g < G; ++g) {
      const double d = LW[size_t(g) * W + w] - wm;
      j += po.window_weight * d * d / (wm * wm * W);
    }
  }
  return j;
}

// After the swaps no single swap of two instances on different GPUs lowers the objective, as
// computed from scratch: the search's incremental terms (load, kept affinity, windows, summed
// in blocks of four with a tail) are the objective's. Random loads, windows and affinities.
TEST(GpuPacking, NoSwapLowersTheObjectiveComputedFromScratch) {
  for (int W : {0, 3, 4, 7, 16}) {
    std::mt19937 rng(uint32_t(7 + W));
    std::uniform_real_distribution<double> u(0.5, 10.0);
    const int G = 4, slots = 4, m = 15;
    AffMat a = zeros(m);
    for (int i = 0; i < m; ++i)
      for (int j = i + 1; j < m; ++j) set_aff(a, i, j, u(rng));
    std::vector<PackItem> items;
    for (int e = 0; e < m; ++e) {
      PackItem it{e, 0, {}};
      for (int w = 0; w < W; ++w) it.window_load.push_back(u(rng) * u(rng));
      it.load = W > 0 ? std::accumulate(it.window_load.begin(), it.window_load.end(), 0.0) / W : u(rng);
      items.push_back(it);
    }
    for (double aw : {0.0, -1.0, 0.5}) {
      PackOptions po;
      po.windows = W;
      po.affinity_weight = aw;
      po.max_passes = 1000;
      const std::vector<int> gpu = pack_node(a, items, G, slots, po);
      const double j0 = pack_objective(a, items, gpu, G, po);
      for (int x = 0; x < m; ++x)
        for (int y = x + 1; y < m; ++y) {
          if (gpu[x] == gpu[y]) continue;
          std::vector<int> s = gpu;
          std::swap(s[size_t(x)], s[size_t(y)]);
          EXPECT_GE(pack_objective(a, items, s, G, po), j0 - 1e-9)
              << "windows " << W << ", affinity weight " << aw << ": swapping " << x << " and " << y;
        }
    }
  }
}

double tar_max_mean(const Placement& p, const Profile& prof) {
  double sum = 0;
  for (int l = 0; l < p.num_layers; ++l) {
    std::vector<double> load(prof.layers[l].load.begin(), prof.layers[l].load.end());
    auto g = tar_gpu_load(p.layers[l], load, p.nodes, p.gpus_per_node);
    double mean = std::accumulate(g.begin(), g.end(), 0.0) / double(g.size());
    sum += *std::max_element(g.begin(), g.end()) / mean;
  }
  return sum / p.num_layers;
}

// The whole planner on a clustered, skewed profile: every slot used, copies on other nodes
// than their primary, primaries' node loads within the planner's loosest limit (50%), and a
// tar-predicted balance better than the paper's rule.
TEST(GracePlanner, FillsSlotsWithCrossNodeCopiesAndBalancesTarLoad) {
  grace::testing::ProfileSpec spec;
  spec.layers = 3, spec.experts = 64, spec.top_k = 6, spec.tokens = 6000, spec.clusters = 8, spec.skew = 0.8;
  auto prof = grace::testing::make_profile(spec);
  auto model = grace::testing::model_for(prof);
  Topology topo = parse_topology("2x4");
  PlanContext ctx{prof, model, topo, {}};
  Placement g = make_planner("grace")->plan(ctx);
  Placement paper = make_planner("grace-paper")->plan(ctx);
  for (int l = 0; l < g.num_layers; ++l) {
    EXPECT_EQ(g.num_instances(l), topo.num_gpus() * ctx.slots());
    for (const auto& ep : g.layers[l].experts) {
      std::set<int> nodes;
      for (const auto& in : ep.instances) nodes.insert(topo.node_of(in.gpu));
      EXPECT_EQ(int(nodes.size()), ep.num_instances()) << "a copy inside its primary's node";
    }
    auto slots = g.gpu_slots(l);
    for (const auto& s : slots) EXPECT_EQ(int(s.size()), ctx.slots());
    std::vector<double> node(topo.nodes, 0.0);
    double total = 0;
    for (int e = 0; e < g.num_experts; ++e) {
      node[topo.node_of(g.layers[l].experts[e].primary_gpu())] += double(prof.layers[l].load[e]);
      total += double(prof.layers[l].load[e]);
    }
    for (double v : node) EXPECT_LE(v, 1.50 * total / topo.nodes + 1e-9) << "layer " << l;  // loosest limit
  }
  double mg = tar_max_mean(g, prof), mp = tar_max_mean(paper, prof);
  std::printf("tar-predicted max/mean: grace %.3f grace-paper %.3f\n", mg, mp);
  EXPECT_LT(mg, mp);
}

}  // namespace
}  // namespace grace::plan
