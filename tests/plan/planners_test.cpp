// Invariants every planner must keep, on small and medium synthetic profiles, and the
// properties that distinguish them (replicas, group sizes, affinity kept, balance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "fixtures.h"
#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/simulate.h"
#include "grace/synth.h"
#include "plan/controlled_grouping.h"

namespace grace {
namespace {

struct Case {
  std::string name;
  testing::ProfileSpec spec;
  std::string topo;
};

std::vector<Case> cases() {
  testing::ProfileSpec small;  // 2 layers x 16 experts, top-2
  testing::ProfileSpec medium;
  medium.layers = 3, medium.experts = 64, medium.top_k = 6, medium.tokens = 6000, medium.clusters = 8;
  medium.skew = 0.8;
  testing::ProfileSpec odd;  // not divisible by the GPU count
  odd.layers = 1, odd.experts = 20, odd.top_k = 3, odd.clusters = 5, odd.skew = 1.0;
  testing::ProfileSpec top1;  // one expert per token (Switch, Llama 4): no co-activation at all
  top1.layers = 2, top1.experts = 32, top1.top_k = 1, top1.skew = 1.0;
  return {{"small", small, "2x2"}, {"medium", medium, "2x4"}, {"odd", odd, "2x4"}, {"top1", top1, "2x4"}};
}

bool replicas_allowed(const std::string& planner) { return planner != "contiguous" && planner != "uniform-affinity"; }

class EveryPlanner : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryPlanner, KeepsPlacementInvariants) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    auto prof = testing::make_profile(c.spec);
    auto model = testing::model_for(prof);
    Topology topo = parse_topology(c.topo);
    PlanContext ctx{prof, model, topo, {}};
    auto planner = make_planner(GetParam());
    Placement p = planner->plan(ctx);
    EXPECT_EQ(p.policy, GetParam());
    EXPECT_EQ(p.model, "test-model");
    EXPECT_EQ(p.nodes, topo.nodes);
    EXPECT_EQ(p.gpus_per_node, topo.gpus_per_node);
    EXPECT_EQ(p.slots_per_gpu, ctx.slots());
    ASSERT_EQ(int(p.layers.size()), prof.num_layers);
    int replicas = 0;
    for (int l = 0; l < p.num_layers; ++l) {
      ASSERT_EQ(int(p.layers[l].experts.size()), prof.num_experts);
      std::vector<int> used(topo.num_gpus(), 0);
      for (const auto& ep : p.layers[l].experts) {
        ASSERT_GE(ep.num_instances(), 1);
        double sum = 0;
        std::set<int> gpus;
        for (const auto& in : ep.instances) {
          ASSERT_GE(in.gpu, 0);
          ASSERT_LT(in.gpu, topo.num_gpus());
          EXPECT_GT(in.weight, 0);
          sum += in.weight;
          gpus.insert(in.gpu);
          ++used[in.gpu];
        }
        EXPECT_EQ(gpus.size(), ep.instances.size()) << "two instances on one GPU";
        EXPECT_NEAR(sum, 1.0, 1e-9);
        replicas += ep.num_instances() - 1;
      }
      for (int g = 0; g < topo.num_gpus(); ++g) EXPECT_LE(used[g], p.slots_per_gpu) << "GPU " << g;
    }
    if (!replicas_allowed(GetParam())) {
      EXPECT_EQ(replicas, 0);
    }
    auto s = summarize_plan(p, prof);
    EXPECT_LE(s.slots_used_max, s.slots_available);
    EXPECT_EQ(int(s.replicas_per_layer.size()), prof.num_layers);
  }
}

TEST_P(EveryPlanner, IsDeterministic) {
  auto c = cases()[1];
  auto prof = testing::make_profile(c.spec);
  auto model = testing::model_for(prof);
  Topology topo = parse_topology(c.topo);
  PlanOptions opt;
  opt.seed = 7;
  PlanContext ctx{prof, model, topo, opt};
  Placement a = make_planner(GetParam())->plan(ctx), b = make_planner(GetParam())->plan(ctx);
  EXPECT_EQ(placement_hash(a), placement_hash(b));
  for (int l = 0; l < a.num_layers; ++l)
    for (int e = 0; e < a.num_experts; ++e) {
      const auto& x = a.layers[l].experts[e].instances;
      const auto& y = b.layers[l].experts[e].instances;
      ASSERT_EQ(x.size(), y.size());
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(x[i].gpu, y[i].gpu);
        EXPECT_EQ(x[i].weight, y[i].weight);
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Plan, EveryPlanner, ::testing::ValuesIn(planner_names()), [](const auto& info) {
  std::string n = info.param;
  for (auto& ch : n)
    if (ch == '-' || ch == '+') ch = '_';
  return n;
});

std::vector<int> primaries_per_gpu(const Placement& p, int layer) {
  std::vector<int> n(p.num_gpus(), 0);
  for (const auto& ep : p.layers[layer].experts) ++n[ep.primary_gpu()];
  return n;
}

TEST(UniformAffinity, GroupSizesAreEqualOrWithinOne) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    auto prof = testing::make_profile(c.spec);
    auto model = testing::model_for(prof);
    Topology topo = parse_topology(c.topo);
    Placement p = make_planner("uniform-affinity")->plan({prof, model, topo, {}});
    for (int l = 0; l < p.num_layers; ++l) {
      auto n = primaries_per_gpu(p, l);
      auto [lo, hi] = std::minmax_element(n.begin(), n.end());
      EXPECT_LE(*hi - *lo, c.spec.experts % topo.num_gpus() == 0 ? 0 : 1);
    }
  }
}

TEST(GracePaper, GpuGroupSizesStayWithinControlledBounds) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    auto prof = testing::make_profile(c.spec);
    auto model = testing::model_for(prof);
    Topology topo = parse_topology(c.topo);
    PlanOptions opt;
    opt.ratio = 0.15;
    PlanContext ctx{prof, model, topo, opt};
    Placement p = make_planner("grace-paper")->plan(ctx);
    for (int l = 0; l < p.num_layers; ++l) {
      auto n = primaries_per_gpu(p, l);
      for (int node = 0; node < topo.nodes; ++node) {
        int in_node = 0;
        for (int g = 0; g < topo.gpus_per_node; ++g) in_node += n[topo.gpu_at(node, g)];
        auto b = plan::controlled_bounds(in_node, topo.gpus_per_node, 0.15, ctx.slots());
        EXPECT_GE(b.lo, 1);
        for (int g = 0; g < topo.gpus_per_node; ++g) {
          int s = n[topo.gpu_at(node, g)];
          EXPECT_GE(s, std::max(1, b.ideal - b.delta)) << "layer " << l << " node " << node;
          EXPECT_LE(s, b.ideal + b.delta) << "layer " << l << " node " << node;
        }
      }
    }
  }
}

TEST(GracePaper, PicksTheRatioFromTheGridWhenAsked) {
  auto c = cases()[1];
  auto prof = testing::make_profile(c.spec);
  auto model = testing::model_for(prof);
  Topology topo = parse_topology(c.topo);
  std::vector<std::string> log;
  PlanContext ctx{prof, model, topo, {}, &log};
  make_planner("grace-paper")->plan(ctx);
  bool found = false;
  for (const auto& line : log) found |= line.find("ratio r =") != std::string::npos;
  EXPECT_TRUE(found) << "no note about the ratio picked";
}

// A profile with planted clusters: affinity-aware planners keep more affinity on a GPU.
TEST(Planners, AffinityAwarePlannersKeepMoreAffinityThanContiguous) {
  testing::ProfileSpec s;
  s.layers = 2, s.experts = 32, s.top_k = 4, s.tokens = 8000, s.clusters = 8, s.in_cluster = 0.95;
  auto prof = testing::make_profile(s);
  auto model = testing::model_for(prof);
  Topology topo = parse_topology("2x4");
  auto summary = [&](const char* name) { return summarize_plan(make_planner(name)->plan({prof, model, topo, {}}), prof); };
  const PlanSummary contiguous = summary("contiguous");
  EXPECT_GT(summary("uniform-affinity").affinity_in_gpu, contiguous.affinity_in_gpu + 0.2);
  EXPECT_GT(summary("grace-paper").affinity_in_gpu, contiguous.affinity_in_gpu + 0.2);
  // grace groups co-activated experts by node (hierarchical communication crosses to a node
  // once) and spreads them over the node's GPUs (their loads peak together).
  const PlanSummary grace = summary("grace");
  EXPECT_GT(grace.affinity_in_node, contiguous.affinity_in_node + 0.2);
  EXPECT_LT(grace.affinity_in_gpu, 0.5 * grace.affinity_in_node / topo.gpus_per_node);
}

// A skewed profile: replicating planners balance the predicted GPU load better.
TEST(Planners, ReplicatingPlannersBalanceBetterThanContiguous) {
  testing::ProfileSpec s;
  s.layers = 2, s.experts = 32, s.top_k = 4, s.tokens = 8000, s.clusters = 0, s.skew = 1.2;
  auto prof = testing::make_profile(s);
  auto model = testing::model_for(prof);
  Topology topo = parse_topology("2x4");
  auto balance = [&](const char* name) {
    return summarize_plan(make_planner(name)->plan({prof, model, topo, {}}), prof).predicted_max_mean;
  };
  double contiguous = balance("contiguous");
  EXPECT_GT(contiguous, 1.3);
  EXPECT_LT(balance("eplb"), contiguous);
  EXPECT_LT(balance("grace"), contiguous);
  std::printf("predicted max/mean: contiguous %.3f eplb %.3f grace-paper %.3f grace %.3f\n", contiguous,
              balance("eplb"), balance("grace-paper"), balance("grace"));
  // grace keeps affinity too, so it is not as balanced as load-only eplb, but far better than
  // the paper's rule, which leaves most free slots empty.
  EXPECT_LT(balance("grace"), balance("grace-paper"));
  EXPECT_LT(balance("grace"), 1.25);
}

// PlanOptions::node_load_limit (a study knob): grace plans under that one node load limit. A
// profile whose co-activated clusters differ in load: keeping clusters whole unbalances the
// nodes, so a tight limit must give up affinity for balance and no limit must not.
TEST(GracePlanner, NodeLoadLimitTradesAffinityForNodeBalance) {
  testing::ProfileSpec s;
  s.layers = 2, s.experts = 32, s.top_k = 4, s.tokens = 8000, s.clusters = 4, s.in_cluster = 0.95, s.skew = 1.0;
  auto prof = testing::make_profile(s);
  auto model = testing::model_for(prof);
  Topology topo = parse_topology("2x4");
  auto node_balance = [&](const Placement& p) {  // worst layer's primaries' node load max/mean
    double worst = 0;
    for (int l = 0; l < p.num_layers; ++l) {
      std::vector<double> node(size_t(topo.nodes), 0.0);
      double total = 0;
      for (int e = 0; e < p.num_experts; ++e) {
        node[size_t(topo.node_of(p.layers[l].experts[e].primary_gpu()))] += prof.layers[l].load[e];
        total += prof.layers[l].load[e];
      }
      worst = std::max(worst, *std::max_element(node.begin(), node.end()) / (total / topo.nodes));
    }
    return worst;
  };
  auto plan = [&](double limit) {
    PlanOptions o;
    o.redundant_slots = 0;
    o.node_load_limit = limit;
    return make_planner("grace")->plan({prof, model, topo, o});
  };
  const Placement tight = plan(0.05), loose = plan(1e9);
  std::printf("node max/mean: limit 0.05 %.3f, none %.3f; affinity in node %.3f / %.3f\n", node_balance(tight),
              node_balance(loose), summarize_plan(tight, prof).affinity_in_node,
              summarize_plan(loose, prof).affinity_in_node);
  EXPECT_LE(node_balance(tight), 1.05 + 1e-9);
  EXPECT_GT(node_balance(loose), node_balance(tight) + 0.05);
  EXPECT_GT(summarize_plan(loose, prof).affinity_in_node, summarize_plan(tight, prof).affinity_in_node);
}

// Synthetic GPT-OSS-20B traffic (8,192 tokens: the whole trace is grace's planning sample), and the
// simulated MoE-layer time of grace's plan under `o`, replayed on that same trace as the judge
// replays its sample (cover router, the plan's batches).
struct WholeTraceJudge {
  ModelSpec model = load_model("gpt-oss-20b");
  Trace tr;
  Profile prof;
  Topology topo;
  WholeTraceJudge(uint64_t seed, const char* topology) : topo(parse_topology(topology)) {
    SynthOptions so;
    so.tokens = 8192, so.seed = seed;
    tr = synthesize_trace(model, so);
    prof = build_profile(tr);
  }
  double layer_us(const PlanOptions& o) const {
    const Placement p = make_planner("grace")->plan({prof, model, topo, o});
    EvalOptions eo;
    eo.router = "cover";
    eo.batch_tokens = o.batch_tokens;
    return simulate(evaluate(tr, p, topo, model, eo), topo, model).mean_layer.total_us;
  }
};

// The per-layer judge tries the node splits made under a 10% limit, a 50% limit and no limit, and
// keeps the fastest as the simulator sees it (a looser split must win by kLooserSplitMargin, 1%).
// Planned and replayed on the same trace (the whole trace is the sample), grace's simulated layer
// time is then within 1% of the best single-limit plan's. On synthetic GPT-OSS-20B at 2x8 (32
// experts on 16 GPUs) the unlimited split is the fastest by far, so a judge that did not try it
// would miss.
TEST(GracePlanner, JudgeKeepsTheFastestOfTheTightLooseAndUnlimitedSplits) {
  const WholeTraceJudge w(5, "2x8");
  auto layer_us = [&](double limit) {
    PlanOptions o;
    o.node_load_limit = limit;
    return w.layer_us(o);
  };
  const double judged = layer_us(-1), tight = layer_us(0.10), loose = layer_us(0.50), none = layer_us(1e9);
  std::printf("layer us: judged %.1f, limit 0.1 %.1f, 0.5 %.1f, none %.1f\n", judged, tight, loose, none);
  EXPECT_LT(none, 0.95 * std::min(tight, loose));  // the case where the unlimited split matters
  EXPECT_LE(judged, std::min({tight, loose, none}) / 0.99 + 1e-6);
}

// At 3 and 4 nodes every node split gets kicks (iterated local search on the sample's
// connectivity), and the split before its kicks is judged beside it: a kicked split touches fewer
// nodes per token but may balance worse, and only the judge sees the time. Planned and replayed
// on the same trace (the whole trace is the sample), grace's layer time is then within the
// looser-split margin (1%) of the faster of the plans made with kicks alone and with none
// (PlanOptions::node_kicks). On synthetic GPT-OSS-20B at 4x8, seed 7, the plan without kicks is
// the faster of those two, so a judge that saw only kicked splits would miss.
TEST(GracePlanner, JudgesEachNodeSplitWithAndWithoutItsKicks) {
  const WholeTraceJudge w(7, "4x8");
  auto layer_us = [&](int kicks) {
    PlanOptions o;
    o.node_kicks = kicks;
    return w.layer_us(o);
  };
  const double judged = layer_us(-1), none = layer_us(0), kicked = layer_us(20);
  std::printf("layer us: judged %.1f, no kicks %.1f, 20 kicks alone %.1f\n", judged, none, kicked);
  EXPECT_LT(none, 0.99 * kicked);  // the case where the unkicked splits matter
  EXPECT_LE(judged, std::min(none, kicked) / 0.99 + 1e-6);
  EXPECT_LT(judged, none);  // and the kicked ones help on other layers
}

// PlanOptions::target_router: grace judges its candidates through the router the plan will be
// served with. SGLang's static dispatch sends a GPU without its own copy to any copy on any node,
// so a replica on another node pulls pairs off its expert's home node; planned for that rule, grace
// may keep replicas home, and under that rule its plan must be at least as fast as the plan made
// for cover (planned and replayed on the same synthetic trace). Planned for cover it is the
// default plan, and an unknown target is an input error.
TEST(GracePlanner, TargetRouterPlansForSglangsDispatch) {
  const ModelSpec model = load_model("gpt-oss-20b");
  SynthOptions so;
  so.tokens = 8192, so.seed = 5;
  const Trace tr = synthesize_trace(model, so);
  const Profile prof = build_profile(tr);
  const Topology topo = parse_topology("2x4");
  auto plan = [&](const char* target, int redundant = -1) {
    PlanOptions o;
    if (target) o.target_router = target;
    o.redundant_slots = redundant;
    return make_planner("grace")->plan({prof, model, topo, o});
  };
  auto layer_us = [&](const Placement& p, const char* router) {
    EvalOptions eo;
    eo.router = router;
    eo.comm = CommScheme::kHierarchical;
    return simulate(evaluate(tr, p, topo, model, eo), topo, model).mean_layer.total_us;
  };
  const Placement for_cover = plan(nullptr), for_sglang = plan("sglang-static");
  EXPECT_EQ(placement_hash(plan("cover")), placement_hash(for_cover));
  EXPECT_NE(placement_hash(for_sglang), placement_hash(for_cover));
  const double sg_cover = layer_us(for_cover, "sglang-static"), sg_sglang = layer_us(for_sglang, "sglang-static");
  std::printf("under sglang-static: planned for cover %.1f us, for sglang-static %.1f us; under cover %.1f / %.1f\n",
              sg_cover, sg_sglang, layer_us(for_cover, "cover"), layer_us(for_sglang, "cover"));
  EXPECT_LT(sg_sglang, sg_cover);
  // Its replicas must not cost time under that rule: at least as fast as no replicas at all.
  const double sg_none = layer_us(plan("sglang-static", 0), "sglang-static");
  std::printf("under sglang-static, planned for it without replicas: %.1f us\n", sg_none);
  EXPECT_LE(sg_sglang, sg_none);
  EXPECT_THROW(plan("no-such-router"), InputError);
}

TEST(Summary, CountsReplicasAffinityAndBalanceOfAHandMadePlan) {
  Profile prof;
  prof.num_layers = 1, prof.num_experts = 4, prof.top_k = 2;
  LayerProfile lp;
  lp.num_experts = 4;
  lp.load = {30, 10, 10, 10};
  lp.affinity.assign(16, 0);
  lp.affinity[0 * 4 + 1] = lp.affinity[1 * 4 + 0] = 6;  // 0-1 on one GPU
  lp.affinity[2 * 4 + 3] = lp.affinity[3 * 4 + 2] = 2;  // 2-3 across nodes
  prof.layers = {lp};
  Placement p;
  p.num_layers = 1, p.num_experts = 4, p.nodes = 2, p.gpus_per_node = 1, p.slots_per_gpu = 3;
  LayerPlacement l;
  l.experts.resize(4);
  l.experts[0].instances = {{0, 0.5}, {1, 0.5}};
  l.experts[1].instances = {{0, 1.0}};
  l.experts[2].instances = {{0, 1.0}};
  l.experts[3].instances = {{1, 1.0}};
  p.layers = {l};
  auto s = summarize_plan(p, prof);
  EXPECT_EQ(s.replicas_per_layer, std::vector<int>{1});
  EXPECT_EQ(s.slots_used_max, 3);
  EXPECT_EQ(s.slots_available, 3);
  EXPECT_DOUBLE_EQ(s.affinity_in_gpu, 6.0 / 8.0);
  EXPECT_DOUBLE_EQ(s.affinity_in_node, 6.0 / 8.0);
  // GPU 0: 15 + 10 + 10 = 35, GPU 1: 15 + 10 = 25; mean 30.
  EXPECT_DOUBLE_EQ(s.predicted_max_mean, 35.0 / 30.0);
}

}  // namespace
}  // namespace grace
