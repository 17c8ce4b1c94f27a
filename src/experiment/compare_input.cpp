// load_compare_input (see compare_input.h).
#include "experiment/compare_input.h"

#include <fmt/format.h>

#include <utility>

#include "experiment/trace_split.h"
#include "grace/error.h"
#include "grace/synth.h"
#include "grace/trace_io.h"

namespace grace::experiment {
namespace {

std::string join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

// The preset whose shape fits the trace, else a generic model of that shape.
ModelSpec infer_model(const Trace& t) {
  for (const auto& name : model_preset_names()) {
    ModelSpec m = load_model(name);
    if (m.moe_layers == t.num_layers && m.top_k == t.top_k && m.experts >= t.num_experts) return m;
  }
  return generic_model(t.num_layers, t.num_experts, t.top_k);
}

}  // namespace

CompareInput load_compare_input(const CompareOptions& o, CompareResult& r) {
  GRACE_INPUT_CHECK(o.batch_tokens > 0, "--batch-tokens must be > 0 (got {})", o.batch_tokens);
  CompareInput in;
  in.topo = parse_topology(o.topology);
  const Topology& topo = in.topo;
  r.topology = topo.name;
  r.compute_model = std::string(compute_model_name(topo.compute_model));
  r.nodes = topo.nodes;
  r.gpus_per_node = topo.gpus_per_node;
  r.batch_tokens = o.batch_tokens;
  r.seed = o.seed;

  ModelSpec& model = in.model;
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
  if (!o.plan_traces.empty()) {
    in.plan_trace = read_trace(o.plan_traces, model.experts);
    in.plan_trace.num_experts = model.experts;
    GRACE_INPUT_CHECK(in.plan_trace.num_layers == trace.num_layers && in.plan_trace.top_k == trace.top_k,
                      "--plan-trace {} has {} layers x top-{}, --trace has {} x top-{}", join(o.plan_traces),
                      in.plan_trace.num_layers, in.plan_trace.top_k, trace.num_layers, trace.top_k);
    in.eval_trace = std::move(trace);
    r.plan_source = join(o.plan_traces) + " (all of it); evaluated on all of the trace";
  } else {
    TraceSplit sp = split_even_odd(trace);
    in.plan_trace = std::move(sp.plan);
    in.eval_trace = std::move(sp.eval);
    in.plan_trace.num_experts = in.eval_trace.num_experts = model.experts;
    r.plan_source = sp.by_sequence ? "even-indexed sequences of the trace; evaluated on the odd-indexed ones (out of sample)"
                                   : "first half of the trace's tokens; evaluated on the second half (out of sample)";
  }
  GRACE_INPUT_CHECK(in.eval_trace.num_tokens() > 0 && in.plan_trace.num_tokens() > 0,
                    "trace {} is too small to plan and evaluate on (needs at least two sequences or two tokens)",
                    r.trace_source);
  r.model = model.name;
  r.num_layers = model.moe_layers;
  r.num_experts = model.experts;
  r.top_k = model.top_k;
  r.eval_tokens = in.eval_trace.num_tokens();
  r.plan_tokens = in.plan_trace.num_tokens();
  r.eval_seqs = in.eval_trace.num_seqs();
  r.plan_seqs = in.plan_trace.num_seqs();
  in.profile = build_profile(in.plan_trace);
  return in;
}

}  // namespace grace::experiment
