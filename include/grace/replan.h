// Incremental re-planning: a placement adapted to recent routing while moving few expert
// instances (docs/replan.md).
//
// Objective (the grace planner's, docs/planners.md): per layer, the number of remote nodes a
// sampled recent token must visit, averaged over source nodes (a token from node s needs every
// node that is the home node -- the primary's node -- of one of its experts missing on s). It is
// lowered under the planner's node load limit and a GPU load limit, both on the tar load
// estimate (an instance gets its node's own demand plus an even share of the demand of nodes
// without the expert).
//
// Move model: an instance (layer, expert, GPU) present in the new placement but not in the old
// one is one move (its weights must be copied there); removing an instance or changing routing
// weights costs nothing. Bytes moved = moves x ModelSpec::expert_bytes().
//
// Search: start from the old placement; candidate changes are swaps of two instances between
// nodes (e goes to f's GPU and f to e's: 2 moves), replacing an instance of an expert that has
// another one by a copy of an expert its node lacks (1 move), and adopting, for one layer, the
// layer of a full `grace` plan of the recent routing aligned to the old placement (nodes and
// GPUs relabelled to keep the most instances in place; as many moves as it differs). Each is
// scored by its exact change of the objective on the recent sample; greedy best gain per move
// until the budget is spent or nothing gains. The budget is never exceeded; with budget 0 the old
// placement is returned unchanged. Deterministic.
//
// Break-even (optional, min_visits_per_move > 0): a change is made only when each move it adds
// pays for itself: the node visits per token it saves, times 2 x token_bytes (dispatch and
// combine) over a horizon of T tokens, must be at least the expert_bytes it ships. The search
// stops when the best gain per move falls below that (move_break_even gives the threshold).
#ifndef GRACE_REPLAN_H_
#define GRACE_REPLAN_H_

#include <cstdint>
#include <vector>

#include "grace/model.h"
#include "grace/placement.h"
#include "grace/profile.h"
#include "grace/topology.h"

namespace grace {

struct ReplanOptions {
  int64_t max_moves = -1;        // instances that may be placed anew; < 0: unbounded
  double node_load_tol = 0.10;   // node load may not exceed (1 + tol) x mean (nor get worse if it does)
  double gpu_load_tol = 0.25;    // the same for GPUs
  bool full_plan_target = true;  // consider adopting layers of a full grace plan
  uint64_t seed = 1;             // the full plan's seed
  int max_edges = 8192;          // sampled tokens per layer the search scores on
  // Break-even: node visits per token (summed over layers) a change must save per move it adds;
  // 0: any gain. move_break_even(model, T) makes each move pay for its bytes within T tokens.
  double min_visits_per_move = 0;
  int threads = 0;  // search and full-plan threads (PlanOptions::threads); 0: the cores, up to 16
};

// The break-even gain per move for a horizon of `horizon_tokens` served tokens: a move ships
// expert_bytes once (charged as a cross-node copy); one node visit saved per token saves
// 2 x token_bytes per token (dispatch and combine) on the same links. Returns
// expert_bytes / (2 x token_bytes x horizon_tokens); 0 when horizon_tokens <= 0 (no rule).
double move_break_even(const ModelSpec& model, double horizon_tokens);

struct ReplanResult {
  Placement placement;
  int64_t moves = 0;  // instances in `placement` not in the old one
  int64_t layers_changed = 0;
  // Predicted remote node visits per token, summed over layers (the objective), on the recent
  // profile's sample: old placement, result, and the full grace plan (when computed).
  double visits_before = 0, visits_after = 0, visits_full = -1;
  int64_t full_plan_moves = -1;        // moves of the (aligned) full plan, when computed
  bool stopped_at_break_even = false;  // the search ended because the best change did not pay
  // Predicted GPU load max/mean with the placement's weights (tar estimate), mean over layers.
  double load_before = 0, load_after = 0, load_full = -1;
  Placement full_plan;  // the aligned full plan (empty layers when not computed)
};

// REQUIRES: old validated for topo/model; recent has the model's layers/experts/top-k and a
// non-empty sample. topo.slots_per_gpu is overridden by the old placement's.
ReplanResult replan(const Placement& old, const Profile& recent, const ModelSpec& model, const Topology& topo,
                    const ReplanOptions& options);

// Instances (layer, expert, GPU) of `to` that `from` does not have.
int64_t count_moves(const Placement& from, const Placement& to);

// `p` with, per layer, its nodes and the GPUs inside each node relabelled (greedily) to keep the
// most instances of `reference` in place. Traffic, load and validity are unchanged (the
// topology is symmetric); only count_moves(reference, .) drops.
Placement align_placement(const Placement& reference, const Placement& p, int nodes, int gpus_per_node);

// The objective: predicted remote node visits per token, summed over layers (see above).
double predicted_node_visits(const Placement& p, const Profile& recent, int max_edges = 8192);

// Predicted GPU load max/mean with the placement's weights (tar estimate), mean over layers.
double predicted_load_max_mean(const Placement& p, const Profile& recent);

}  // namespace grace

#endif  // GRACE_REPLAN_H_
