// The simulated MoE-layer time of one layer's placement on the layer's sampled tokens: the
// evaluator and the cost model behind `grace compare` (the target router, `cover` unless the plan
// is made for another, and hierarchical dispatch). The
// sample is replayed as the traffic it stands for will be: its tokens keep their sequences, which
// are pinned to GPUs as the evaluator pins them, and cut into batches the way the plan's
// batches will be cut (`JudgeOptions`), each of batch_tokens / (profiled tokens per sample row)
// rows (at least 512). Where the sample holds one sequence (or none is recorded: a trace
// without sequence offsets), each sampled token is its own sequence (sources spread evenly) and
// a batch is batch_tokens rows.
// The grace planner uses it to pick between candidate plans of a layer (method.md: a real cost
// model judges plans). Private to src/plan.
#ifndef GRACE_PLAN_LAYER_JUDGE_H_
#define GRACE_PLAN_LAYER_JUDGE_H_

#include <cstdint>
#include <string>

#include "grace/batching.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/topology.h"
#include "plan/hypergraph.h"

namespace grace::plan {

struct JudgeOptions {
  int64_t batch_tokens = 4096;
  Batching batching = Batching::kTrace;
  std::string router = "cover";  // the router the plan will be served with
};

double judge_layer(const LayerPlacement& lp, const Hypergraph& hg, const Topology& t, const ModelSpec& m, int slots,
                   const JudgeOptions& opt);

}  // namespace grace::plan

#endif  // GRACE_PLAN_LAYER_JUDGE_H_
