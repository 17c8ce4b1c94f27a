#include "plan/layer_judge.h"

#include <algorithm>
#include <cmath>

#include "grace/evaluate.h"
#include "grace/simulate.h"

namespace grace::plan {
namespace {

// Fewest sample rows per judged batch: below it a batch's expert loads are mostly sampling noise.
constexpr int64_t kMinBatchRows = 512;

// The sample as a one-layer trace, with the sequences it keeps (or, without them, one token
// per sequence, pinned evenly), and the rows per batch that stand for `batch_tokens` tokens.
Trace sample_trace(const Hypergraph& hg, int64_t batch_tokens, int64_t* batch_rows) {
  Trace tr;
  tr.num_layers = 1;
  tr.top_k = hg.k;
  tr.num_experts = hg.num_experts;
  tr.ids.assign(hg.pins.begin(), hg.pins.end());
  if (hg.seq_offsets.size() > 2) {  // two sequences or more
    tr.seq_offsets.assign(hg.seq_offsets.begin(), hg.seq_offsets.end());
    *batch_rows = std::max<int64_t>(std::llround(double(batch_tokens) / hg.scale), std::min(batch_tokens, kMinBatchRows));
    return tr;
  }
  // One sequence (or none recorded): the trace does not say where its tokens come from.
  tr.seq_offsets.resize(size_t(hg.num_edges) + 1);
  for (int h = 0; h <= hg.num_edges; ++h) tr.seq_offsets[size_t(h)] = h;
  *batch_rows = batch_tokens;
  return tr;
}

}  // namespace

double judge_layer(const LayerPlacement& lp, const Hypergraph& hg, const Topology& t, const ModelSpec& m, int slots,
                   const JudgeOptions& opt) {
  Placement p;
  p.model = m.name;
  p.policy = "grace";
  p.num_layers = 1;
  p.num_experts = hg.num_experts;
  p.nodes = t.nodes;
  p.gpus_per_node = t.gpus_per_node;
  p.slots_per_gpu = slots;
  p.layers = {lp};
  for (auto& ep : p.layers[0].experts) {  // weights as Planner::plan will store them
    double sum = 0;
    for (const auto& in : ep.instances) sum += in.weight;
    for (auto& in : ep.instances) in.weight /= sum;
  }
  EvalOptions eo;
  const Trace tr = sample_trace(hg, opt.batch_tokens, &eo.batch_tokens);
  eo.batching = opt.batching;
  eo.comm = CommScheme::kHierarchical;
  eo.router = opt.router;
  eo.keep_records = true;
  ModelSpec one = m;
  one.moe_layers = 1;
  const EvalResult e = evaluate(tr, p, t, one, eo);
  return simulate(e, t, one).mean_layer.total_us;
}

}  // namespace grace::plan
