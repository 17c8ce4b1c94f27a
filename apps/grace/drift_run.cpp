#include "drift_run.h"

#include <algorithm>
#include <set>

#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/replan.h"

namespace grace::cli {
namespace {

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

Placement plan_on(const std::string& policy, const Profile& prof, const ModelSpec& model, const Topology& topo,
                  const Placement& current, const DriftOptions& o) {
  Topology t = topo;
  t.slots_per_gpu = current.slots_per_gpu;
  PlanOptions po;
  po.seed = o.seed;
  po.batch_tokens = o.batch_tokens;
  po.batching = parse_batching(o.batching);
  PlanContext ctx{prof, model, t, po};
  return align_placement(current, make_planner(policy)->plan(ctx), current.nodes, current.gpus_per_node);
}

double saved_per_batch(const WindowCost& cur, const WindowCost& rep, const DriftOptions& o) {
  return 2.0 * (cur.inter_bytes_per_token - rep.inter_bytes_per_token) * double(o.batch_tokens);
}

double payback(const MoveCost& m, double saved_bytes, const Topology& topo) {
  if (m.moves == 0) return 0;
  if (saved_bytes <= 0) return -1;
  return m.seconds / inter_seconds(saved_bytes, topo);
}

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

std::vector<Trace> cut_windows(const Trace& stream, const DriftOptions& o) {
  GRACE_INPUT_CHECK(o.window > 0, "--window must be positive (got {})", o.window);
  const int64_t n = stream.num_tokens();
  std::vector<Trace> w;
  for (int64_t a = 0; a + o.window <= n; a += o.window)
    w.push_back(window_trace(stream, a, a + o.window, o.seq_tokens));
  if (w.empty() && n > 0) w.push_back(window_trace(stream, 0, n, o.seq_tokens));
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

std::vector<DriftWindow> run_drift(const std::vector<Trace>& windows, const Placement& p, const Topology& topo,
                                   const ModelSpec& model, const DriftOptions& o, const Progress& progress) {
  std::vector<DriftWindow> out;
  int64_t first = 0;
  Placement prev;  // the re-plan made on the previous window
  for (size_t i = 0; i < windows.size(); ++i) {
    const Trace& w = windows[i];
    DriftWindow d;
    d.first_token = first;
    first += w.num_tokens();
    d.current = replay(w, p, topo, model, o);
    if (i > 0) {  // judged out of sample: made on window i - 1
      d.has_replan = true;
      d.replanned = replay(w, prev, topo, model, o);
      d.move = move_cost(p, prev, model, topo);
      d.saved_bytes_per_batch = saved_per_batch(d.current, d.replanned, o);
      d.payback_batches = payback(d.move, d.saved_bytes_per_batch, topo);
      d.pays = d.move.moves > 0 && d.payback_batches >= 0 && d.payback_batches <= o.horizon;
    }
    if (i + 1 < windows.size()) {
      ReplanOptions ro;
      ro.max_moves = o.max_moves;
      ro.seed = o.seed;
      ro.min_visits_per_move = o.min_visits_per_move;
      prev = replan(p, build_profile(w), model, topo, ro).placement;
    }
    out.push_back(d);
    if (progress) progress(int(i + 1), int(windows.size()));
  }
  return out;
}

std::vector<std::string> split_strategies(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const std::string& g : given) {
    size_t begin = 0;
    while (true) {
      const size_t comma = g.find(',', begin);
      const std::string s = g.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
      GRACE_INPUT_CHECK(!s.empty(), "--strategies: empty entry in '{}' (a comma too many?)", one_line(g));
      out.push_back(s);
      if (comma == std::string::npos) break;
      begin = comma + 1;
    }
  }
  return out;
}

namespace {

// K of "eplb:K" and "grace:K" (a full re-plan every K windows); 0 for "static" and "replan".
// Refuses anything else, and a K that is not a positive whole number.
int strategy_period(const std::string& s) {
  if (s == "static" || s == "replan") return 0;
  const auto colon = s.find(':');
  const std::string kind = s.substr(0, colon);
  GRACE_INPUT_CHECK((kind == "eplb" || kind == "grace") && colon != std::string::npos,
                    "--strategies: unknown strategy '{}' (valid: static, replan, eplb:K, grace:K)", one_line(s));
  const std::string digits = s.substr(colon + 1);
  int k = 0;
  if (!digits.empty() && digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos)
    k = std::stoi(digits);
  GRACE_INPUT_CHECK(k > 0, "--strategies '{}': K must be a positive whole number of windows", one_line(s));
  return k;
}

}  // namespace

double replans_per_window(const std::vector<std::string>& strategies) {
  double r = 1;  // the drift replay itself re-plans every window
  for (const std::string& s : strategies) {
    if (s == "replan")
      r += 1;
    else if (const int k = strategy_period(s); k > 0)
      r += 1.0 / k;
  }
  return r;
}

void check_strategies(const std::vector<std::string>& strategies) {
  for (size_t i = 0; i < strategies.size(); ++i) {
    strategy_period(strategies[i]);
    for (size_t j = 0; j < i; ++j)
      GRACE_INPUT_CHECK(strategies[j] != strategies[i], "--strategies: '{}' is given twice", strategies[i]);
  }
}

std::vector<StrategyResult> run_strategies(const std::vector<Trace>& windows, const Placement& p, const Topology& topo,
                                           const ModelSpec& model, const DriftOptions& o,
                                           const std::vector<std::string>& strategies, const Progress& progress) {
  check_strategies(strategies);
  std::vector<StrategyResult> res(strategies.size());
  std::vector<Placement> cur(strategies.size(), p);
  for (size_t s = 0; s < strategies.size(); ++s) res[s].name = strategies[s];
  for (size_t i = 0; i < windows.size(); ++i) {
    const Trace& w = windows[i];
    std::vector<WindowCost> seen(strategies.size());
    for (size_t s = 0; s < strategies.size(); ++s) {
      seen[s] = replay(w, cur[s], topo, model, o);  // out of sample: planned before this window
      res[s].windows.push_back(seen[s]);
    }
    const Profile prof = build_profile(w);
    for (size_t s = 0; s < strategies.size(); ++s) {
      const std::string& name = strategies[s];
      Placement next = cur[s];
      bool adopt = false;
      if (i + 1 < windows.size() && name != "static") {
        if (name == "replan") {
          // Trigger: a re-plan made on the window's first half must pay back within the horizon
          // on its second half (held out); then the re-plan of the whole window is adopted.
          const int64_t half = w.num_tokens() / 2;
          const Trace a = window_trace(w, 0, half, o.seq_tokens),
                      b = window_trace(w, half, w.num_tokens(), o.seq_tokens);
          ReplanOptions ro;
          ro.max_moves = o.max_moves;
          ro.seed = o.seed;
          ro.min_visits_per_move = o.min_visits_per_move;
          const Placement trial = replan(cur[s], build_profile(a), model, topo, ro).placement;
          const MoveCost m = move_cost(cur[s], trial, model, topo);
          const double pb =
              payback(m, saved_per_batch(replay(b, cur[s], topo, model, o), replay(b, trial, topo, model, o), o), topo);
          if (m.moves > 0 && pb >= 0 && pb <= o.horizon) {
            next = replan(cur[s], prof, model, topo, ro).placement;
            adopt = true;
          }
        } else {
          const int k = strategy_period(name);
          if ((i + 1) % size_t(k) == 0) {
            next = plan_on(name.substr(0, name.find(':')), prof, model, topo, cur[s], o);
            adopt = true;
          }
        }
      }
      int64_t moved = 0;
      if (adopt) {
        const MoveCost m = move_cost(cur[s], next, model, topo);
        moved = m.moves;
        res[s].moved_bytes += m.bytes;
        res[s].total_moves += m.moves;
        ++res[s].replans;
        cur[s] = std::move(next);
      }
      res[s].moves.push_back(moved);
    }
    if (progress) progress(int(i + 1), int(windows.size()));
  }
  for (auto& r : res) {
    double tok = 0, load = 0;
    for (const auto& c : r.windows) {
      r.inter_bytes += c.inter_bytes_per_token * double(c.tokens);
      load += c.load_max_mean * double(c.tokens);
      tok += double(c.tokens);
    }
    r.load_max_mean = tok > 0 ? load / tok : 0;
  }
  return res;
}

}  // namespace grace::cli
