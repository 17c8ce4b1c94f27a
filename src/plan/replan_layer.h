// One layer's state during incremental re-planning (grace/replan.h): the instances of every
// expert, the node-visit objective on the recent sample kept exact under every change, the tar
// load estimate, and the moves counted against the old layer. best_change() scores the
// candidate swaps and replacements exactly and returns the one with the largest gain per move.
// Private to src/plan.
#ifndef GRACE_PLAN_REPLAN_LAYER_H_
#define GRACE_PLAN_REPLAN_LAYER_H_

#include <cstdint>
#include <vector>

#include "grace/placement.h"
#include "plan/hypergraph.h"

namespace grace::plan {

struct Change {
  enum Kind { kNone, kSwap, kReplace, kAdopt } kind = kNone;
  // kSwap: instance ie of e and instance jf of f trade GPUs. kReplace: instance ie of e is
  // removed and its GPU gets a copy of f. kAdopt: the layer becomes the target layer.
  int e = -1, ie = -1, f = -1, jf = -1;
  int64_t gain = 0;  // objective units (edge x source node visits) saved
  int cost = 0;      // change of the layer's move count
  double score() const { return double(gain) / (cost > 0 ? cost : 0.5); }
};

struct LayerLimits {
  double node_tol = 0.10, gpu_tol = 0.25;
  int candidates = 12;  // single moves kept per direction and node pair (and drops/adds per node)
  int exact = 24;       // pairs of them scored exactly (by the sum of their single deltas)
};

class LayerSearch {
 public:
  LayerSearch(const Hypergraph& hg, std::vector<double> load, const LayerPlacement& old, int nodes, int gpn,
              LayerLimits limits);

  // The target layer kAdopt jumps to (optional).
  void set_target(const LayerPlacement& target);

  int64_t objective() const { return objective_; }  // sum over edges and source nodes
  int64_t moves() const { return moves_; }
  int64_t target_objective() const { return target_objective_; }
  bool changed() const { return changed_; }
  // Best change with gain > 0 and cost <= max_cost (kind kNone when there is none).
  Change best_change(int64_t max_cost);
  void apply(const Change& c);
  // The current layer as instance GPUs (primary first); weights are the caller's business.
  const std::vector<std::vector<int>>& instances() const { return gpus_; }
  int64_t objective_of(const std::vector<std::vector<int>>& inst) const;

 private:
  int64_t edge_cost(int h) const;
  int64_t cost_of(int e, int f) const;  // edges of e and of f, each once
  void refresh(int e);
  bool old_on(int e, int g) const { return old_[size_t(e) * G_ + g] != 0; }
  int64_t moves_of(const std::vector<std::vector<int>>& inst) const;
  void add_load(int e, double sign);
  bool load_ok() const;
  // Exact objective change of a swap / replacement (applied and undone), and load check.
  bool try_swap(int e, int ie, int f, int jf, int64_t& delta);
  bool try_replace(int e, int ie, int f, int64_t& delta);

  const Hypergraph& hg_;
  std::vector<double> load_;
  int E_, N_, Gn_, G_;
  LayerLimits lim_;
  std::vector<std::vector<int>> gpus_;
  std::vector<uint32_t> mask_;
  std::vector<int> home_;
  std::vector<uint8_t> old_;
  std::vector<double> gpu_load_;
  double gpu_limit_ = 0, node_limit_ = 0, gpu_cap_ = 0, node_cap_ = 0;
  int64_t objective_ = 0, moves_ = 0;
  bool changed_ = false;
  std::vector<std::vector<int>> target_;
  int64_t target_objective_ = 0, target_moves_ = 0;
  mutable std::vector<int> seen_;
};

}  // namespace grace::plan

#endif  // GRACE_PLAN_REPLAN_LAYER_H_
