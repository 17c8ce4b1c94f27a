// Placement.replan (grace/replan.h, docs/replan.md) for the Python package: the same search and
// budget semantics as `grace replan`, on top-k ids given as an int array [tokens, layers, k].
#include <pybind11/stl.h>

#include <cmath>

#include "grace/error.h"
#include "grace/placement.h"
#include "grace/profile.h"
#include "grace/replan.h"
#include "grace/topology.h"
#include "grace/trace.h"
#include "py_common.h"

namespace grace::py {
namespace {

using i64_array = pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast>;

pyb::tuple replan_topk(const Placement& old, i64_array ids, pyb::object max_moves, pyb::object max_move_bytes,
                       uint64_t seed, bool full_plan, pyb::object horizon_tokens, pyb::object seq_offsets,
                       int threads) {
  GRACE_INPUT_CHECK(!old.model.empty(), "replan: the placement names no model");
  const ModelSpec model = load_model(old.model);
  const Topology topo = parse_topology(std::to_string(old.nodes) + "x" + std::to_string(old.gpus_per_node));
  validate_placement(old, topo, model, "placement");
  GRACE_INPUT_CHECK(max_moves.is_none() || max_move_bytes.is_none(),
                    "replan: give max_moves or max_move_bytes, not both");
  int64_t budget = -1;
  if (!max_moves.is_none()) {
    budget = max_moves.cast<int64_t>();
    GRACE_INPUT_CHECK(budget >= 0, "replan: max_moves {} must be >= 0 (None for no limit)", budget);
  } else if (!max_move_bytes.is_none()) {
    const double b = max_move_bytes.cast<double>();
    GRACE_INPUT_CHECK(std::isfinite(b) && b >= 0, "replan: max_move_bytes {} must be >= 0 (None for no limit)", b);
    budget = int64_t(std::floor(b / double(model.expert_bytes())));
  }
  double horizon = 0;
  if (!horizon_tokens.is_none()) {
    horizon = horizon_tokens.cast<double>();
    GRACE_INPUT_CHECK(std::isfinite(horizon) && horizon > 0, "replan: horizon_tokens {} must be > 0 (None: no rule)",
                      horizon);
  }
  GRACE_INPUT_CHECK(ids.ndim() == 3, "replan: topk_ids must be [tokens, layers, k], got {} dimensions", ids.ndim());
  const int64_t T = ids.shape(0);
  const int L = int(ids.shape(1)), K = int(ids.shape(2));
  GRACE_INPUT_CHECK(T >= 1, "replan: topk_ids holds no tokens (empty stream)");
  GRACE_INPUT_CHECK(
      L == old.num_layers && K == model.top_k,
      "replan: topk_ids has {} layers, top-{} but the placement is for model '{}' ({} MoE layers, top-{})", L, K,
      model.name, old.num_layers, model.top_k);
  const int64_t* d = ids.data();
  for (int64_t i = 0; i < T * L * K; ++i)
    GRACE_INPUT_CHECK(d[i] >= 0 && d[i] < old.num_experts, "replan: topk_ids has id {} at flat index {} ({} experts)",
                      d[i], i, old.num_experts);
  Trace tr;
  tr.num_layers = L;
  tr.top_k = K;
  tr.num_experts = old.num_experts;
  tr.ids.assign(d, d + T * L * K);
  tr.seq_offsets = resolve_seq_offsets(seq_offsets, T, "replan");
  const Profile prof = build_profile(tr, threads);
  ReplanOptions o;
  o.threads = threads;
  o.max_moves = budget;
  o.seed = seed;
  o.full_plan_target = full_plan;
  o.min_visits_per_move = move_break_even(model, horizon);
  const ReplanResult r = replan(old, prof, model, topo, o);
  pyb::dict rep;
  rep["moves"] = r.moves;
  rep["bytes_moved"] = r.moves * model.expert_bytes();
  rep["layers_changed"] = r.layers_changed;
  rep["min_visits_per_move"] = o.min_visits_per_move;
  rep["stopped_at_break_even"] = r.stopped_at_break_even;
  rep["node_visits_before"] = r.visits_before;
  rep["node_visits_after"] = r.visits_after;
  rep["load_max_mean_before"] = r.load_before;
  rep["load_max_mean_after"] = r.load_after;
  rep["full_plan_moves"] = full_plan ? pyb::object(pyb::int_(r.full_plan_moves)) : pyb::none();
  rep["node_visits_full_plan"] = full_plan ? pyb::object(pyb::float_(r.visits_full)) : pyb::none();
  return pyb::make_tuple(r.placement, rep);
}

}  // namespace

void init_replan(pyb::module_& m) {
  auto cls = pyb::reinterpret_borrow<pyb::class_<Placement>>(m.attr("Placement"));
  cls.def(
      "replan", &replan_topk, pyb::arg("topk_ids"), pyb::arg("max_moves") = pyb::none(),
      pyb::arg("max_move_bytes") = pyb::none(), pyb::arg("seed") = 1, pyb::arg("full_plan") = true,
      pyb::arg("horizon_tokens") = pyb::none(), pyb::arg("seq_offsets") = pyb::none(), pyb::arg("threads") = 0,
      "Adapts the placement to recent routing topk_ids [tokens, layers, k], placing at most max_moves expert "
      "instances anew (or max_move_bytes of weights; None: no limit; 0 returns it unchanged), as `grace "
      "replan`; horizon_tokens T: make a move only when the cross-node bytes it saves over T tokens reach the "
      "expert bytes it ships (--horizon-tokens); seq_offsets: where each request starts (a trace's seq_offsets.npy; "
      "None: one sequence), as the trace folder gives `grace replan`; threads: as `grace replan --threads` (0: one per "
      "core, up to 16; the same result for any count). Returns (new Placement, report dict: moves, "
      "bytes_moved, node "
      "visits and load before/after).");
}

}  // namespace grace::py
