// Shared helpers of the planners: a dense per-layer affinity matrix in doubles, loads, turning
// per-GPU groups into a LayerPlacement, and balancing an expert's load over its instances.
// Private to src/plan (and its tests). Nothing here allocates per call beyond its result.
#ifndef GRACE_PLAN_PLAN_UTIL_H_
#define GRACE_PLAN_PLAN_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "grace/placement.h"
#include "grace/profile.h"

namespace grace::plan {

// Dense symmetric affinity matrix with zero diagonal, n x n, row-major.
struct AffMat {
  int n = 0;
  std::vector<double> v;
  double operator()(int i, int j) const { return v[size_t(i) * n + j]; }
  double& at(int i, int j) { return v[size_t(i) * n + j]; }
  double total_pairs() const;  // sum over i < j
};

AffMat layer_affinity(const LayerProfile& lp);
// The sub-matrix over `members` (indices into a), in the order given.
AffMat sub_affinity(const AffMat& a, const std::vector<int>& members);
std::vector<double> layer_load(const LayerProfile& lp);

// A layer with one instance per expert: expert e on gpu_of[e], weight 1.
LayerPlacement primaries_layer(const std::vector<int>& gpu_of);

// Members of each group: groups[g] = sorted indices i with assign[i] == g.
std::vector<std::vector<int>> members_of(const std::vector<int>& assign, int k);

// Shares x_i >= 0 with sum x_i = total that minimise max_i(base_i + x_i) (water filling).
std::vector<double> water_fill(const std::vector<double>& base, double total);

// Predicted GPU load at one layer: sum over instances of load[e] x weight (weights as stored).
std::vector<double> predicted_gpu_load(const LayerPlacement& lp, const std::vector<double>& load, int num_gpus);

// Per-layer notes of what a planner gave up (PlanContext::log), one line each.
void add_note(std::vector<std::string>* log, std::string line);

}  // namespace grace::plan

#endif  // GRACE_PLAN_PLAN_UTIL_H_
