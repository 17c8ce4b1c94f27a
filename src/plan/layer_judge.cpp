#include "plan/layer_judge.h"

#include "grace/evaluate.h"
#include "grace/simulate.h"

namespace grace::plan {

double judge_layer(const LayerPlacement& lp, const Hypergraph& hg, const Topology& t, const ModelSpec& m, int slots) {
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
  Trace tr;
  tr.num_layers = 1;
  tr.top_k = hg.k;
  tr.num_experts = hg.num_experts;
  tr.ids.assign(hg.pins.begin(), hg.pins.end());
  tr.seq_offsets.resize(size_t(hg.num_edges) + 1);  // one token per sequence: pinned evenly
  for (int h = 0; h <= hg.num_edges; ++h) tr.seq_offsets[size_t(h)] = h;
  EvalOptions eo;
  eo.batch_tokens = 4096;
  eo.comm = CommScheme::kHierarchical;
  eo.router = "cover";
  eo.keep_records = true;
  ModelSpec one = m;
  one.moe_layers = 1;
  const EvalResult e = evaluate(tr, p, t, one, eo);
  return simulate(e, t, one).mean_layer.total_us;
}

}  // namespace grace::plan
