// Planners turn a routing profile into a Placement for a model on a topology.
// Each is registered by name (make_planner); all are deterministic for a given seed.
//
//   contiguous        the default expert-parallel layout, no replicas
//   eplb              load-only hierarchical packing with replicas (DeepSeek EPLB)
//   uniform-affinity  equal-size affinity groups, no replicas (Occult)
//   grace-paper       the method of ../shared/docs/method.md as published
//   grace             the project's own best
#ifndef GRACE_PLANNER_H_
#define GRACE_PLANNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grace/batching.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/profile.h"
#include "grace/topology.h"

namespace grace {

struct PlanOptions {
  // Extra expert slots over the whole cluster for replicas (EPLB's "redundant experts").
  // -1: one per GPU. Ignored when the topology fixes slots_per_gpu.
  int redundant_slots = -1;
  uint64_t seed = 0;
  // grace-paper: the controlled non-uniform ratio r; < 0 picks it at the knee of (S(r), U(r)).
  double ratio = -1;
  // grace: plan every layer under this one node load limit (primaries' node load over the mean)
  // instead of judging its pair {0.10, 0.50}; < 0: the pair. A study knob, not a CLI option
  // (PM_CEILING=1 scripts/planner-matrix.sh: how far a split that ignores balance gets).
  double node_load_limit = -1;
  // grace: kicks per node split (iterated local search, docs/planners.md "Kicks at 3 and 4
  // nodes"). < 0: the planner's own choice, 20 at 3 and 4 nodes with the splits before the kicks
  // judged beside the kicked ones, none elsewhere; 0: none; K > 0: K at any node count, the
  // kicked splits alone. A study knob, not a CLI option (build/bench/planner_matrix --node-kicks).
  int node_kicks = -1;
  // The batches the placement will serve, as the evaluator and the engine cut them
  // (grace/batching.h): grace judges its candidate plans on its token sample cut the same way
  // (sequences pinned to GPUs, batch_tokens per batch), so it weighs node balance against
  // traffic as the traffic will really arrive.
  int64_t batch_tokens = 4096;
  Batching batching = Batching::kTrace;
  // grace: the router the placement will be served with (a registered router name). grace replays
  // its candidate plans through it; for a router that does not prefer the token's own node
  // (router_prefers_own_node: SGLang's static and dynamic dispatch, wrr, round-robin, primary)
  // it also builds candidates whose replicas stay on their expert's home node, since there a
  // replica on another node pulls pairs off the home node as much as it keeps others home
  // (docs/planners.md, "Planning for SGLang's own dispatch"). `grace plan --target`.
  std::string target_router = "cover";
  // Threads a planner that plans in parallel (grace) may use; 0: one per core, at most 16. The
  // placement is the same for every value.
  int threads = 0;
};

struct PlanContext {
  const Profile& profile;
  const ModelSpec& model;
  const Topology& topo;
  PlanOptions options;
  // If set, planners append one line per thing they had to give up or adjust (replicas that
  // did not fit the slots, capacity moves, the ratio picked). Optional, additive.
  std::vector<std::string>* log = nullptr;

  int num_gpus() const { return topo.num_gpus(); }
  int slots() const;  // slots per GPU for this model and options
};

class Planner {
 public:
  virtual ~Planner() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;

  // Plans every layer, fills the placement's metadata and validates the result against the
  // topology (a planner bug surfaces as an Error, never as a bad file).
  Placement plan(const PlanContext& ctx) const;

 private:
  virtual Placement plan_impl(const PlanContext& ctx) const = 0;
};

std::vector<std::string> planner_names();
// Throws InputError listing the valid names.
std::unique_ptr<Planner> make_planner(std::string_view name);

// The numbers `grace plan` prints about a plan.
struct PlanSummary {
  std::vector<int> replicas_per_layer;  // instances beyond one per expert
  int slots_used_max = 0;               // most instances on one GPU at one layer
  int slots_available = 0;              // slots per GPU
  double affinity_in_gpu = 0;           // share of pairwise affinity whose experts share a
  double affinity_in_node = 0;          //   GPU / node (primaries), over all layers
  double predicted_max_mean = 0;        // predicted GPU load max/mean with the placement's
                                        //   weights, mean over layers
};
PlanSummary summarize_plan(const Placement& p, const Profile& profile);

}  // namespace grace

#endif  // GRACE_PLANNER_H_
