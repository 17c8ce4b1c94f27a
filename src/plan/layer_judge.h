// The simulated MoE-layer time of one layer's placement on the layer's sampled tokens: the
// evaluator and the cost model behind `grace compare` (cover router, hierarchical dispatch,
// batches of 4096 sampled tokens spread evenly over the GPUs). The grace planner uses it to pick
// between candidate plans of a layer (method.md: a real cost model judges plans). Private to
// src/plan.
#ifndef GRACE_PLAN_LAYER_JUDGE_H_
#define GRACE_PLAN_LAYER_JUDGE_H_

#include "grace/model.h"
#include "grace/placement.h"
#include "grace/topology.h"
#include "plan/hypergraph.h"

namespace grace::plan {

double judge_layer(const LayerPlacement& lp, const Hypergraph& hg, const Topology& t, const ModelSpec& m, int slots);

}  // namespace grace::plan

#endif  // GRACE_PLAN_LAYER_JUDGE_H_
