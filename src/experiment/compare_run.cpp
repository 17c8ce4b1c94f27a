// run_compare: plan on one part of the trace, then route, evaluate and simulate every
// combination on the other part (see grace/experiment.h).
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "grace/experiment.h"
#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/router.h"
#include "grace/synth.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#include "experiment/trace_split.h"

namespace grace {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The preset whose shape fits the trace, else a generic model of that shape.
ModelSpec infer_model(const Trace& t) {
  for (const auto& name : model_preset_names()) {
    ModelSpec m = load_model(name);
    if (m.moe_layers == t.num_layers && m.top_k == t.top_k && m.experts >= t.num_experts) return m;
  }
  return generic_model(t.num_layers, t.num_experts, t.top_k);
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void fill_stats(CompareRow& row, const EvalResult& e, const SimResult& s, int G) {
  const double nb = std::max<int64_t>(1, e.num_batches);
  const double tb = double(e.token_bytes);
  row.inter_mb_per_batch = double(e.total.inter_copies) * tb / nb / 1e6;
  row.intra_mb_per_batch = double(e.total.intra_copies) * tb / nb / 1e6;
  row.inter_bytes_per_token = e.inter_bytes_per_token();
  row.intra_bytes_per_token = e.intra_bytes_per_token();
  row.load_max_mean = e.total.samples ? e.total.load_max_mean_sum / double(e.total.samples) : 0;
  double pairs = double(std::max<int64_t>(1, e.total.pairs));
  row.share_same_gpu = double(e.total.pairs_same_gpu) / pairs;
  row.share_same_node = double(e.total.pairs_same_node) / pairs;
  row.share_remote = double(e.total.pairs_remote) / pairs;
  row.time = s.mean_layer;
  row.time_per_layer = s.per_layer;
  for (const auto& l : e.per_layer) {
    row.inter_mb_per_layer.push_back(double(l.inter_copies) * tb / nb / 1e6);
    row.intra_mb_per_layer.push_back(double(l.intra_copies) * tb / nb / 1e6);
  }
  row.gpu_load.assign(e.num_layers, std::vector<double>(G, 0.0));
  std::vector<int64_t> count(e.num_layers, 0);
  for (const auto& rec : e.records) {
    int64_t sum = 0;
    for (int64_t p : rec.gpu_pairs) sum += p;
    if (sum == 0 || rec.layer >= e.num_layers) continue;
    double mean = double(sum) / G;
    for (int g = 0; g < G; ++g) row.gpu_load[rec.layer][g] += double(rec.gpu_pairs[g]) / mean;
    ++count[rec.layer];
  }
  for (int l = 0; l < e.num_layers; ++l)
    for (auto& v : row.gpu_load[l]) v = count[l] ? v / double(count[l]) : 0.0;
}

}  // namespace

std::vector<Combination> default_combinations() {
  using C = CommScheme;
  return {{"contiguous", "primary", C::kFlat},           {"eplb", "round-robin", C::kFlat},
          {"eplb", "wrr", C::kFlat},                     {"uniform-affinity", "primary", C::kHierarchical},
          {"grace-paper", "tar", C::kHierarchical},      {"grace", "tar", C::kHierarchical},
          {"grace", "load-aware", C::kHierarchical}};
}

CompareResult run_compare(const CompareOptions& o, const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  GRACE_INPUT_CHECK(o.batch_tokens > 0, "--batch-tokens must be > 0 (got {})", o.batch_tokens);
  Topology topo = parse_topology(o.topology);
  CompareResult r;
  r.topology = topo.name;
  r.compute_model = std::string(compute_model_name(topo.compute_model));
  r.nodes = topo.nodes;
  r.gpus_per_node = topo.gpus_per_node;
  r.batch_tokens = o.batch_tokens;
  r.seed = o.seed;

  // Model and traces.
  ModelSpec model;
  Trace trace;
  if (o.traces.empty()) {
    model = load_model(o.model.empty() ? "deepseek-v2-lite" : o.model);
    SynthOptions so;
    so.tokens = o.synth_tokens;
    so.seed = o.seed + 1;
    so.with_weights = false;
    trace = synthesize_trace(model, so);
    r.trace_source = fmt::format("synthetic trace of {} ({} tokens, seed {})", model.name, trace.num_tokens(), so.seed);
  } else {
    if (!o.model.empty()) model = load_model(o.model);
    trace = read_trace(o.traces, o.model.empty() ? 0 : model.experts);
    if (o.model.empty()) model = infer_model(trace);
    r.trace_source = join(o.traces);
  }
  GRACE_INPUT_CHECK(trace.num_layers == model.moe_layers && trace.top_k == model.top_k,
                    "trace {} has {} layers x top-{}, model '{}' has {} x top-{}", r.trace_source, trace.num_layers,
                    trace.top_k, model.name, model.moe_layers, model.top_k);
  trace.num_experts = model.experts;
  Trace plan_trace, eval_trace;
  if (!o.plan_traces.empty()) {
    plan_trace = read_trace(o.plan_traces, model.experts);
    plan_trace.num_experts = model.experts;
    GRACE_INPUT_CHECK(plan_trace.num_layers == trace.num_layers && plan_trace.top_k == trace.top_k,
                      "--plan-trace {} has {} layers x top-{}, --trace has {} x top-{}", join(o.plan_traces),
                      plan_trace.num_layers, plan_trace.top_k, trace.num_layers, trace.top_k);
    eval_trace = std::move(trace);
    r.plan_source = join(o.plan_traces) + " (all of it); evaluated on all of the trace";
  } else {
    TraceSplit sp = split_even_odd(trace);
    plan_trace = std::move(sp.plan);
    eval_trace = std::move(sp.eval);
    plan_trace.num_experts = eval_trace.num_experts = model.experts;
    r.plan_source = sp.by_sequence ? "even-indexed sequences of the trace; evaluated on the odd-indexed ones (out of sample)"
                                   : "first half of the trace's tokens; evaluated on the second half (out of sample)";
  }
  GRACE_INPUT_CHECK(eval_trace.num_tokens() > 0 && plan_trace.num_tokens() > 0,
                    "trace {} is too small to plan and evaluate on (needs at least two sequences or two tokens)",
                    r.trace_source);
  r.model = model.name;
  r.num_layers = model.moe_layers;
  r.num_experts = model.experts;
  r.top_k = model.top_k;
  r.eval_tokens = eval_trace.num_tokens();
  r.plan_tokens = plan_trace.num_tokens();
  r.eval_seqs = eval_trace.num_seqs();
  r.plan_seqs = plan_trace.num_seqs();

  Profile profile = build_profile(plan_trace);
  const auto planners = planner_names();
  const auto routers = router_names();
  const auto combos = o.combinations.empty() ? default_combinations() : o.combinations;
  const int G = topo.num_gpus();
  for (size_t i = 0; i < combos.size(); ++i) {
    CompareRow row;
    row.combo = combos[i];
    const std::string tag = fmt::format("compare [{}/{}] {}", i + 1, combos.size(), row.combo.label());
    if (!contains(planners, row.combo.planner)) {
      row.skipped = fmt::format("planner '{}' is not available (have: {})", row.combo.planner, join(planners));
    } else if (!contains(routers, row.combo.router)) {
      row.skipped = fmt::format("router '{}' is not available (have: {})", row.combo.router, join(routers));
    }
    if (!row.skipped.empty()) {
      say(tag + ": skipped: " + row.skipped);
      r.rows.push_back(std::move(row));
      continue;
    }
    auto t0 = std::chrono::steady_clock::now();
    PlanOptions popt;
    popt.seed = o.seed;
    Placement p = make_planner(row.combo.planner)->plan(PlanContext{profile, model, topo, popt});
    row.plan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (int l = 0; l < p.num_layers; ++l) row.replicas += p.num_instances(l) - p.num_experts;
    EvalOptions eopt;
    eopt.batch_tokens = o.batch_tokens;
    eopt.comm = row.combo.comm;
    eopt.router = row.combo.router;
    eopt.seed = o.seed;
    eopt.keep_records = true;
    EvalResult e = evaluate(eval_trace, p, topo, model, eopt);
    SimResult s = simulate(e, topo, model);
    r.num_batches = e.num_batches;
    fill_stats(row, e, s, G);
    row.ok = true;
    say(fmt::format("{}: plan {:.2f} s, cross-node {:.2f} MB/batch, load max/mean {:.2f}, {:.1f} us/layer "
                    "({:.1f} with overlap)",
                    tag, row.plan_seconds, row.inter_mb_per_batch, row.load_max_mean, row.time.total_us,
                    row.time.overlap_us));
    r.rows.push_back(std::move(row));
  }
  for (size_t i = 0; i < r.rows.size() && r.baseline < 0; ++i)
    if (r.rows[i].ok) r.baseline = int(i);
  if (r.baseline >= 0) {
    const auto& b = r.rows[r.baseline].time;
    for (auto& row : r.rows) {
      if (!row.ok) continue;
      row.speedup = row.time.total_us > 0 ? b.total_us / row.time.total_us : 0;
      row.speedup_overlap = row.time.overlap_us > 0 ? b.overlap_us / row.time.overlap_us : 0;
    }
  }
  return r;
}

}  // namespace grace
