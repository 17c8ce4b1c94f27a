// load_compare_input (see compare_input.h).
#include "experiment/compare_input.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "core/cost_limits.h"
#include "experiment/trace_split.h"
#include "grace/error.h"
#include "grace/expert_memory.h"
#include "grace/synth.h"

namespace grace::experiment {
namespace {

constexpr int64_t kChunkTokens = 65536;

std::string join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

// The preset whose shape fits the trace, else a generic model of that shape.
ModelSpec infer_model(int layers, int experts, int top_k) {
  for (const auto& name : model_preset_names()) {
    ModelSpec m = load_model(name);
    if (m.moe_layers == layers && m.top_k == top_k && m.experts >= experts) return m;
  }
  return generic_model(layers, experts, top_k);
}

// The largest replica budget any row or sweep point plans with (-1: one per GPU).
int64_t largest_budget(const CompareOptions& o, const ModelSpec& model, const Topology& topo) {
  int64_t most = topo.num_gpus();
  for (const auto& c : o.combinations.empty() ? default_combinations() : o.combinations)
    most = std::max<int64_t>(most, c.redundant);
  if (o.sweep_memory)
    for (double pct : o.sweep_pcts)
      most = std::max<int64_t>(most, redundant_slots_for_extra_pct(pct, model.experts, topo.num_gpus()));
  return most;
}

// Reads the whole reader once (validating every id), to its end.
void read_through(TraceReader& reader) {
  Trace chunk;
  while (reader.next(chunk, kChunkTokens)) {
  }
}

}  // namespace

CompareInput load_compare_input(const CompareOptions& o, CompareResult& r) {
  GRACE_INPUT_CHECK(o.batch_tokens > 0, "--batch-tokens must be positive (got {})", o.batch_tokens);
  GRACE_INPUT_CHECK(o.plan_traces.empty() || o.split == TraceSplitRule::kEvenOdd,
                    "--split {} cuts the --trace into planning and evaluated traffic; with --plan-trace there is "
                    "nothing to cut (give one or the other)",
                    split_rule_name(o.split));
  CompareInput in;
  in.topo = parse_topology(o.topology);
  const Topology& topo = in.topo;
  r.topology = topo.name;
  r.compute_model = std::string(compute_model_name(topo.compute_model));
  r.nodes = topo.nodes;
  r.gpus_per_node = topo.gpus_per_node;
  r.batch_tokens = o.batch_tokens;
  r.batching = o.batching;
  r.seed = o.seed;

  // The model, and the cost of planning it on the topology, before the trace is read (when the
  // model is inferred from the trace, after one pass over it for its largest expert id).
  ModelSpec& model = in.model;
  std::shared_ptr<const Trace> synth;  // the synthetic trace lives in memory
  if (o.traces.empty()) {
    model = load_model(o.model.empty() ? "deepseek-v2-lite" : o.model);
  } else if (!o.model.empty()) {
    model = load_model(o.model);
  } else {
    TraceReader probe(o.traces, 0);
    Trace chunk;
    while (probe.next(chunk, kChunkTokens)) {
    }
    model = infer_model(probe.shape().num_layers, chunk.num_experts, probe.shape().top_k);
  }
  check_plan_cost(model, topo, largest_budget(o, model, topo));
  auto open = [&](std::unique_ptr<TraceReader>& reader) {
    if (synth)
      reader = std::make_unique<TraceReader>(synth);
    else
      reader = std::make_unique<TraceReader>(o.traces, model.experts);
  };
  if (o.traces.empty()) {
    GRACE_INPUT_CHECK(
        o.synth_tokens >= 2,
        "--synth-tokens {}: the synthetic trace needs at least 2 tokens (one to plan on, one to evaluate)",
        o.synth_tokens);
    SynthOptions so;
    so.tokens = o.synth_tokens;
    so.seed = o.seed + 1;
    so.with_weights = false;
    synth = std::make_shared<const Trace>(synthesize_trace(model, so));
    r.trace_source =
        fmt::format("synthetic trace of {} ({} tokens, seed {})", model.name, synth->num_tokens(), so.seed);
  } else {
    r.trace_source = join(o.traces);
  }
  open(in.eval);
  TraceReader& eval = *in.eval;
  GRACE_INPUT_CHECK(eval.shape().num_layers == model.moe_layers && eval.shape().top_k == model.top_k,
                    "trace {} has {} layers x top-{}, model '{}' has {} x top-{}", r.trace_source,
                    eval.shape().num_layers, eval.shape().top_k, model.name, model.moe_layers, model.top_k);

  std::unique_ptr<TraceReader> plan;
  if (!o.plan_traces.empty() && !o.foresight) {
    plan = std::make_unique<TraceReader>(o.plan_traces, model.experts);
    GRACE_INPUT_CHECK(plan->shape().num_layers == eval.shape().num_layers && plan->shape().top_k == eval.shape().top_k,
                      "--plan-trace {} has {} layers x top-{}, --trace has {} x top-{}", join(o.plan_traces),
                      plan->shape().num_layers, plan->shape().top_k, eval.shape().num_layers, eval.shape().top_k);
    read_through(eval);  // every id of the evaluated trace checked before any planning
    r.plan_source = join(o.plan_traces) + " (all of it); evaluated on all of the trace";
  } else if (!o.plan_traces.empty()) {  // foresight: the --trace itself plans
    open(plan);
    r.plan_source = "all of the evaluated trace (foresight: a study's upper bound, not out of sample)";
  } else {
    // Even-indexed sequences plan, odd-indexed ones are evaluated (one sequence: its halves); or
    // each trace's earlier half plans and its later half is evaluated.
    const bool halves = o.split == TraceSplitRule::kHalves;
    const TraceSplit split = halves ? split_halves(eval.seq_offsets(), eval.source_offsets(), r.trace_source)
                                    : split_even_odd(eval.seq_offsets(), r.trace_source);
    open(plan);
    plan->select_ranges(o.foresight ? split.eval : split.plan);  // its pass reads (and validates) the whole trace
    eval.select_ranges(split.eval);
    if (halves)
      r.plan_source = split.by_sequence ? "the first half of each trace's sequences; evaluated on the second half (out "
                                          "of sample: later traffic)"
                                        : "the first half of each trace's sequences (of its tokens where it holds one "
                                          "sequence); evaluated on the rest (out of sample: later traffic)";
    else
      r.plan_source = split.by_sequence
                          ? "even-indexed sequences of the trace; evaluated on the odd-indexed ones (out of sample)"
                          : "first half of the trace's tokens; evaluated on the second half (out of sample)";
    if (o.foresight)
      r.plan_source = "the part of the trace it is evaluated on (foresight: a study's upper bound, not out of sample)";
  }
  // One row's per-(batch, layer) records (the simulator's input), as `simulate` checks them.
  const int64_t G = topo.num_gpus(), B = o.batch_tokens, T = eval.shape().tokens;
  const int64_t slots =
      topo.slots_per_gpu > 0 ? topo.slots_per_gpu : (model.experts + largest_budget(o, model, topo) + G - 1) / G;
  check_memory("compare",
               {{"batches", max_batches(T, B, o.batching, int(G))}, {"layers", model.moe_layers}, {"GPUs", G}},
               64 + 4 * slots);
  r.model = model.name;
  r.num_layers = model.moe_layers;
  r.num_experts = model.experts;
  r.top_k = model.top_k;
  r.eval_tokens = eval.shape().tokens;
  r.plan_tokens = plan->shape().tokens;
  r.eval_seqs = eval.shape().seqs;
  r.plan_seqs = plan->shape().seqs;
  in.profile = build_profile(*plan, model.experts, kChunkTokens, o.threads);
  return in;
}

}  // namespace grace::experiment
