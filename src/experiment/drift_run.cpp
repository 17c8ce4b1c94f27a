// `grace drift`'s replay of a routing stream, window by window (grace/drift_run.h).
#include "grace/drift_run.h"

#include <algorithm>
#include <optional>
#include <set>

#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/replan.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

Placement plan_on(const std::string& policy, const Profile& prof, const ModelSpec& model, const Topology& topo,
                  const Placement& current, const DriftOptions& o) {
  Topology t = topo;
  t.slots_per_gpu = current.slots_per_gpu;
  PlanOptions po;
  po.seed = o.seed;
  po.batch_tokens = o.batch_tokens;
  po.batching = parse_batching(o.batching);
  po.threads = o.threads;
  PlanContext ctx{prof, model, t, po};
  return align_placement(current, make_planner(policy)->plan(ctx), current.nodes, current.gpus_per_node);
}

ReplanOptions replan_options(const DriftOptions& o) {
  ReplanOptions ro;
  ro.max_moves = o.max_moves;
  ro.seed = o.seed;
  ro.threads = o.threads;
  ro.min_visits_per_move = o.min_visits_per_move;
  return ro;
}

double saved_per_batch(const WindowCost& cur, const WindowCost& rep, const DriftOptions& o) {
  return 2.0 * (cur.inter_bytes_per_token - rep.inter_bytes_per_token) * double(o.batch_tokens);
}

double payback(const MoveCost& m, double saved_bytes, const Topology& topo) {
  if (m.moves == 0) return 0;
  if (saved_bytes <= 0) return -1;
  return m.seconds / inter_seconds(saved_bytes, topo);
}

// Everything a run shares, and the state carried from one window to the next.
struct Run {
  const Placement& p;
  const Topology& topo;
  const ModelSpec& model;
  const DriftOptions& o;
  Placement prev;                  // the drift replay's re-plan made on the previous window
  std::vector<Placement> current;  // each strategy's placement in force

  // Window i (w): P against the re-plan made on window i - 1; then the re-plan of w for the next.
  DriftWindow drift_step(int64_t i, const Trace& w, const Profile* prof) {
    DriftWindow d;
    d.first_token = i * o.window;
    d.current = replay(w, p, topo, model, o);
    if (i > 0) {  // judged out of sample: made on window i - 1
      d.has_replan = true;
      d.replanned = replay(w, prev, topo, model, o);
      d.move = move_cost(p, prev, model, topo);
      d.saved_bytes_per_batch = saved_per_batch(d.current, d.replanned, o);
      d.payback_batches = payback(d.move, d.saved_bytes_per_batch, topo);
      d.pays = d.move.moves > 0 && d.payback_batches >= 0 && d.payback_batches <= o.horizon;
    }
    if (prof) prev = replan(p, *prof, model, topo, replan_options(o)).placement;
    return d;
  }

  // Strategy s on window i (w): replayed with the placement in force before w (out of sample),
  // then, unless w is the last window (prof null), the strategy may re-plan on w.
  void strategy_step(size_t s, int64_t i, const Trace& w, const Profile* prof, StrategyResult& res) {
    Placement& cur = current[s];
    res.windows.push_back(replay(w, cur, topo, model, o));
    const std::string& name = res.name;
    Placement next;
    bool adopt = false;
    if (prof && name == "replan") {
      // Trigger: a re-plan made on the window's first half must pay back within the horizon on
      // its second half (held out); then the re-plan of the whole window is adopted.
      const int64_t half = w.num_tokens() / 2;
      const Trace a = window_trace(w, 0, half, o.seq_tokens), b = window_trace(w, half, w.num_tokens(), o.seq_tokens);
      const ReplanOptions ro = replan_options(o);
      const Placement trial = replan(cur, build_profile(a, o.threads), model, topo, ro).placement;
      const MoveCost m = move_cost(cur, trial, model, topo);
      const double pb =
          payback(m, saved_per_batch(replay(b, cur, topo, model, o), replay(b, trial, topo, model, o), o), topo);
      if (m.moves > 0 && pb >= 0 && pb <= o.horizon) {
        next = replan(cur, *prof, model, topo, ro).placement;
        adopt = true;
      }
    } else if (prof && name != "static") {
      if ((i + 1) % strategy_period(name) == 0) {
        next = plan_on(name.substr(0, name.find(':')), *prof, model, topo, cur, o);
        adopt = true;
      }
    }
    int64_t moved = 0;
    if (adopt) {
      const MoveCost m = move_cost(cur, next, model, topo);
      moved = m.moves;
      res.moved_bytes += m.bytes;
      res.total_moves += m.moves;
      ++res.replans;
      cur = std::move(next);
    }
    res.moves.push_back(moved);
  }
};

}  // namespace

double inter_seconds(double bytes, const Topology& topo) {
  const double bw =
      topo.node_nic_GBps > 0 ? topo.nodes * topo.node_nic_GBps : topo.num_gpus() * topo.inter.bandwidth_GBps;
  return bytes / (std::max(bw, 1e-9) * 1e9);
}

MoveCost move_cost(const Placement& from, const Placement& to, const ModelSpec& model, const Topology& topo) {
  MoveCost m;
  const int Gn = from.gpus_per_node;
  for (size_t l = 0; l < to.layers.size(); ++l)
    for (size_t e = 0; e < to.layers[l].experts.size(); ++e) {
      std::set<int> gpus, nodes;
      for (const auto& in : from.layers[l].experts[e].instances) gpus.insert(in.gpu), nodes.insert(in.gpu / Gn);
      for (const auto& in : to.layers[l].experts[e].instances) {
        if (gpus.count(in.gpu)) continue;
        ++m.moves;
        ++(nodes.count(in.gpu / Gn) ? m.intra_moves : m.inter_moves);
      }
    }
  const double eb = double(model.expert_bytes());
  m.bytes = double(m.moves) * eb;
  m.seconds = inter_seconds(double(m.inter_moves) * eb, topo) +
              double(m.intra_moves) * eb / (std::max(topo.num_gpus() * topo.intra.bandwidth_GBps, 1e-9) * 1e9);
  return m;
}

int64_t drift_window_count(int64_t tokens, int64_t window) {
  GRACE_INPUT_CHECK(window > 0, "--window must be positive (got {})", window);
  if (tokens <= 0) return 0;
  return std::max<int64_t>(1, tokens / window);
}

Trace window_trace(const Trace& s, int64_t a, int64_t b, int64_t seq_tokens) {
  Trace w;
  w.num_layers = s.num_layers;
  w.top_k = s.top_k;
  w.num_experts = s.num_experts;
  const int64_t row = int64_t(s.num_layers) * s.top_k;
  w.ids.assign(s.ids.begin() + a * row, s.ids.begin() + b * row);
  // Sequence boundaries inside [a, b), and a cut every seq_tokens inside each sequence.
  std::vector<int64_t> cuts{a, b};
  for (int64_t o : s.seq_offsets)
    if (o > a && o < b) cuts.push_back(o);
  std::sort(cuts.begin(), cuts.end());
  w.seq_offsets.push_back(0);
  for (size_t i = 0; i + 1 < cuts.size(); ++i)
    for (int64_t t = cuts[i]; t < cuts[i + 1]; t += seq_tokens)
      w.seq_offsets.push_back(std::min(t + seq_tokens, cuts[i + 1]) - a);
  return w;
}

WindowCost replay(const Trace& window, const Placement& p, const Topology& topo, const ModelSpec& model,
                  const DriftOptions& o) {
  EvalOptions eo;
  eo.batch_tokens = std::min(o.batch_tokens, std::max<int64_t>(1, window.num_tokens()));
  eo.comm = parse_comm_scheme(o.comm);
  eo.batching = parse_batching(o.batching);
  eo.router = o.router;
  eo.seed = o.seed;
  eo.keep_records = false;
  const EvalResult r = evaluate(window, p, topo, model, eo);
  WindowCost c;
  c.inter_bytes_per_token = r.inter_bytes_per_token();
  c.intra_bytes_per_token = r.intra_bytes_per_token();
  c.load_max_mean = r.total.samples > 0 ? r.total.load_max_mean_sum / double(r.total.samples) : 1.0;
  c.tokens = window.num_tokens();
  return c;
}

DriftResult run_drift(TraceReader& stream, const Placement& p, const Topology& topo, const ModelSpec& model,
                      const DriftOptions& o, const std::vector<std::string>& strategies,
                      const DriftProgress& progress) {
  check_strategies(strategies);
  GRACE_INPUT_CHECK(o.seq_tokens > 0, "--seq-tokens must be positive (got {})", o.seq_tokens);
  const int64_t n = drift_window_count(stream.shape().tokens, o.window);
  GRACE_INPUT_CHECK(n > 0, "the stream holds no tokens");
  stream.rewind();
  DriftResult r;
  Run run{p, topo, model, o, Placement{}, std::vector<Placement>(strategies.size(), p)};
  r.strategies.resize(strategies.size());
  for (size_t s = 0; s < strategies.size(); ++s) r.strategies[s].name = strategies[s];
  Trace chunk;
  for (int64_t i = 0; i < n; ++i) {
    // Exactly one window per chunk (the whole stream when it is shorter than a window).
    GRACE_CHECK(stream.next(chunk, o.window) && (chunk.num_tokens() == o.window || n == 1),
                "drift: the stream ended inside window {} of {}", i, n);
    const Trace w = window_trace(chunk, 0, chunk.num_tokens(), o.seq_tokens);
    // What the re-plans after this window are made on; none after the last window.
    std::optional<Profile> prof;
    if (i + 1 < n) prof = build_profile(w, o.threads);
    r.windows.push_back(run.drift_step(i, w, prof ? &*prof : nullptr));
    for (size_t s = 0; s < strategies.size(); ++s) run.strategy_step(s, i, w, prof ? &*prof : nullptr, r.strategies[s]);
    if (progress) progress(i + 1, n);
  }
  for (auto& res : r.strategies) {
    double tok = 0, load = 0;
    for (const auto& c : res.windows) {
      res.inter_bytes += c.inter_bytes_per_token * double(c.tokens);
      load += c.load_max_mean * double(c.tokens);
      tok += double(c.tokens);
    }
    res.load_max_mean = tok > 0 ? load / tok : 0;
  }
  return r;
}

}  // namespace grace
