// grace/replan.h: the budget is a hard limit, 0 keeps the placement, more budget is never worse,
// an unbounded budget reaches the full plan, and (on the shared ESFT traces, skipped without
// them) 25% of a full re-plan's moves recover >= 80% of its gain at every task switch.
#include "grace/replan.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "fixtures.h"
#include "grace/planner.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

struct Drifted {
  Profile old_prof, recent;
  ModelSpec model;
  Topology topo;
  Placement old;
};

// Planned on 4 planted clusters; the recent routing has 8 (so the old node sets split them).
Drifted drifted(int layers = 3, int experts = 32, const char* topology = "2x4") {
  Drifted s;
  testing::ProfileSpec a;
  a.layers = layers, a.experts = experts, a.top_k = 4, a.tokens = 3000, a.clusters = 4, a.skew = 0.6;
  testing::ProfileSpec b = a;
  b.clusters = 8, b.seed = 7, b.skew = 0.9;
  s.old_prof = testing::make_profile(a);
  s.recent = testing::make_profile(b);
  s.model = testing::model_for(s.old_prof);
  s.topo = parse_topology(topology);
  s.old = make_planner("grace")->plan({s.old_prof, s.model, s.topo, {}});
  return s;
}

ReplanResult run(const Drifted& s, int64_t moves, bool full = true) {
  ReplanOptions o;
  o.max_moves = moves;
  o.full_plan_target = full;
  return replan(s.old, s.recent, s.model, s.topo, o);
}

TEST(Replan, ZeroBudgetReturnsTheOldPlacement) {
  const Drifted s = drifted();
  const ReplanResult r = run(s, 0);
  EXPECT_EQ(r.moves, 0);
  EXPECT_EQ(r.layers_changed, 0);
  EXPECT_EQ(placement_hash(r.placement), placement_hash(s.old));
  EXPECT_EQ(r.visits_after, r.visits_before);
  EXPECT_GT(r.full_plan_moves, 0);  // there was something to gain
  EXPECT_LT(r.visits_full, r.visits_before);
}

TEST(Replan, BudgetIsRespectedExactlyAndMoreIsNeverWorse) {
  const Drifted s = drifted();
  double last = 1e300;
  for (int64_t m : {0, 1, 2, 3, 4, 6, 9, 14, 20, 30, 45, 70, 100}) {
    SCOPED_TRACE(m);
    const ReplanResult r = run(s, m);
    EXPECT_LE(r.moves, m);
    EXPECT_EQ(count_moves(s.old, r.placement), r.moves);
    EXPECT_NEAR(predicted_node_visits(r.placement, s.recent), r.visits_after, 1e-9);
    EXPECT_LE(r.visits_after, last + 1e-12);
    EXPECT_LE(r.visits_after, r.visits_before);
    last = r.visits_after;
    validate_placement(r.placement, s.topo, s.model);
  }
  // With one move allowed the search uses it (replacements cost 1) when it gains.
  EXPECT_EQ(run(s, 1).moves, 1);
}

TEST(Replan, FourNodesKeepBudgetsAndValidWeights) {
  const Drifted s = drifted(3, 32, "4x2");
  double last = 1e300;
  for (int64_t m : {0, 3, 10, 30, -1}) {
    SCOPED_TRACE(m);
    const ReplanResult r = run(s, m);
    if (m >= 0) {
      EXPECT_LE(r.moves, m);
    }
    EXPECT_LE(r.visits_after, last + 1e-12);
    last = r.visits_after;
    EXPECT_NO_THROW(validate_placement(r.placement, s.topo, s.model));  // weights sum to 1
  }
  EXPECT_LT(last, run(s, 0).visits_after);
}

TEST(Replan, UnboundedBudgetReachesTheFullPlan) {
  const Drifted s = drifted();
  const ReplanResult r = run(s, -1);
  EXPECT_LE(r.visits_after, r.visits_full + 1e-12);  // never worse than adopting it outright
  EXPECT_LE(r.moves, r.full_plan_moves);
  // Swaps and replacements alone (no full plan to adopt) get within a few % of it too.
  const ReplanResult local = run(s, -1, false);
  EXPECT_LE(local.visits_after, 1.05 * r.visits_full);
  EXPECT_EQ(local.visits_full, -1);
}

// The break-even (docs/replan.md, "Break-even"): expert_bytes / (2 x token_bytes x T). For
// DeepSeek-V2-Lite an expert is 3 x 2048 x 1408 x 2 bytes and a token 2048 x 2 bytes, so a move
// must save 3 x 1408 / 2 = 2112 token-visits over the horizon.
TEST(Replan, MoveBreakEvenIsExpertBytesOverTwoTokenBytesTimesTheHorizon) {
  const ModelSpec m = load_model("deepseek-v2-lite");
  EXPECT_DOUBLE_EQ(move_break_even(m, 409600), 2112.0 / 409600);
  EXPECT_DOUBLE_EQ(move_break_even(m, 2112), 1.0);  // one visit saved on every token of the horizon
  EXPECT_EQ(move_break_even(m, 0), 0);              // no horizon: no rule
  EXPECT_EQ(move_break_even(m, -5), 0);
}

// Every change the break-even search makes pays for its moves, so the result does as a whole:
// (visits saved) x 2 x token_bytes x T >= moves x expert_bytes. A higher threshold (shorter
// horizon) never moves more, a threshold above every gain moves nothing, 0 is the plain search.
TEST(Replan, BreakEvenMovesOnlyWhatPaysForItsBytes) {
  const Drifted s = drifted();
  ReplanOptions o;
  const ReplanResult free_run = replan(s.old, s.recent, s.model, s.topo, o);
  ASSERT_GT(free_run.moves, 0);
  EXPECT_FALSE(free_run.stopped_at_break_even);
  // Per move, the plain search gains (before - after) / moves on average; thresholds around it.
  const double avg = (free_run.visits_before - free_run.visits_after) / double(free_run.moves);
  int64_t last = free_run.moves;
  for (double f : {0.25, 1.0, 4.0}) {
    SCOPED_TRACE(f);
    o.min_visits_per_move = f * avg;
    const ReplanResult r = replan(s.old, s.recent, s.model, s.topo, o);
    EXPECT_LE(r.moves, last);
    EXPECT_GE(r.visits_before - r.visits_after, o.min_visits_per_move * double(r.moves) - 1e-12);
    EXPECT_EQ(count_moves(s.old, r.placement), r.moves);
    validate_placement(r.placement, s.topo, s.model);
    last = r.moves;
  }
  EXPECT_LT(last, free_run.moves);  // 4x the average gain per move: the rule stopped it early
  o.min_visits_per_move = 1e9;
  const ReplanResult none = replan(s.old, s.recent, s.model, s.topo, o);
  EXPECT_EQ(none.moves, 0);
  EXPECT_TRUE(none.stopped_at_break_even);
  EXPECT_EQ(placement_hash(none.placement), placement_hash(s.old));
  o.min_visits_per_move = 0;
  EXPECT_EQ(placement_hash(replan(s.old, s.recent, s.model, s.topo, o).placement), placement_hash(free_run.placement));
}

TEST(Replan, AlignmentUndoesARelabelling) {
  const Drifted s = drifted(2, 16);
  Placement p = s.old;
  const int Gn = p.gpus_per_node, G = p.num_gpus();
  for (auto& l : p.layers)  // swap the two nodes, and GPUs 0 and 1 inside each
    for (auto& e : l.experts)
      for (auto& in : e.instances) {
        int g = (in.gpu + Gn) % G;
        if (g % Gn < 2) g ^= 1;
        in.gpu = g;
      }
  EXPECT_GT(count_moves(s.old, p), 0);
  EXPECT_EQ(count_moves(s.old, align_placement(s.old, p, p.nodes, Gn)), 0);
}

// Past 8 nodes, or 8 GPUs in a node, the alignment matches groups greedily by overlap instead of
// trying every permutation: a relabelling is still undone.
TEST(Replan, AlignmentUndoesARelabellingOfManyGroups) {
  for (const char* topology : {"12x1", "1x12", "10x2"}) {
    SCOPED_TRACE(topology);
    const Drifted s = drifted(2, 48, topology);
    Placement p = s.old;
    const int N = p.nodes, Gn = p.gpus_per_node;
    auto relabel = [](int i, int n) { return (7 * i + 3) % n; };  // a permutation for n = 1, 2, 10, 12
    for (auto& l : p.layers)
      for (auto& e : l.experts)
        for (auto& in : e.instances) in.gpu = relabel(in.gpu / Gn, N) * Gn + relabel(in.gpu % Gn, Gn);
    EXPECT_GT(count_moves(s.old, p), 0);
    EXPECT_EQ(count_moves(s.old, align_placement(s.old, p, N, Gn)), 0);
  }
}

// Done when (issue 14): at each switch between ESFT tasks, replan with 25% of the moves of the
// full re-plan (a grace plan of the new task aligned to the old placement) recovers >= 80% of the
// full re-plan's gain in cross-node node visits per token (for 2 nodes: the cross-node copies of
// the cover router) on the new task's tokens.
TEST(Replan, EsftTaskSwitchesQuarterBudgetRecoversMostOfTheGain) {
  const std::string dir = std::string(GRACE_SHARED_DATA) + "/traces/deepseek-v2-lite-esft";
  if (!std::filesystem::exists(dir + "/intent_topk_ids.npy.gz")) GTEST_SKIP() << "no shared traces at " << dir;
  const ModelSpec model = load_model("deepseek-v2-lite");
  const Topology topo = parse_topology("2x4");
  const char* tasks[] = {"intent", "law", "summary", "translation"};
  std::vector<Profile> prof;
  for (const char* t : tasks)
    prof.push_back(build_profile(read_trace({dir + "/" + t + "_topk_ids.npy.gz"}, model.experts)));
  PlanOptions po;
  po.seed = 1;
  Placement cur = make_planner("grace")->plan({prof[0], model, topo, po});
  for (int i = 1; i < 4; ++i) {
    SCOPED_TRACE(tasks[i]);
    ReplanOptions o;
    o.max_moves = 0;
    const ReplanResult full = replan(cur, prof[size_t(i)], model, topo, o);  // computes the aligned full plan
    o.max_moves = full.full_plan_moves / 4;
    const ReplanResult r = replan(cur, prof[size_t(i)], model, topo, o);
    const double recovered = (r.visits_before - r.visits_after) / (full.visits_before - full.visits_full);
    std::printf(
        "[ %s ] full re-plan %lld moves, %.3f -> %.3f visits/token; replan %lld moves -> %.3f: %.1f%% of the gain\n",
        tasks[i], (long long)full.full_plan_moves, full.visits_before, full.visits_full, (long long)r.moves,
        r.visits_after, 100 * recovered);
    EXPECT_LE(r.moves, full.full_plan_moves / 4);
    EXPECT_GE(recovered, 0.80);
    cur = r.placement;  // the next switch starts from what was in force
  }
}

}  // namespace
}  // namespace grace
