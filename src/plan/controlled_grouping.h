// Controlled non-uniform grouping (method.md, hierarchical grouping steps 2 and 3): one node's
// n experts into G per-GPU groups whose sizes stay within [max(1, S - delta), S + delta],
// S = floor(n / G), delta = max(1, round(S * r)), further capped by the GPU's slots; and the
// choice of r at the knee of the curve (S(r), U(r)) over a grid.
#ifndef GRACE_PLAN_CONTROLLED_GROUPING_H_
#define GRACE_PLAN_CONTROLLED_GROUPING_H_

#include <vector>

#include "plan/plan_util.h"

namespace grace::plan {

struct GroupBounds {
  int ideal = 0;  // S
  int delta = 0;
  int lo = 0;  // max(1, S - delta); 0 when n < G (some GPUs must stay empty)
  int hi = 0;  // min(S + delta, slots), at least ceil(n / G)
};
GroupBounds controlled_bounds(int n, int groups, double r, int slots);

// Groups the experts of `a` (one node) into `groups` groups starting from `initial` (e.g. the
// spectral clustering) and applying release / rejoin / fill with the bounds for r.
std::vector<int> controlled_grouping(const AffMat& a, int groups, double r, int slots, const std::vector<int>& initial);

// S(r): standard deviation of the group sizes around n / groups.
double size_spread(const std::vector<int>& assign, int groups);

// The r grid searched when PlanOptions::ratio < 0: 0.05, 0.10, ..., 0.50.
std::vector<double> ratio_grid();

// The knee of (s[i], u[i]) over grid[i]: both axes normalised to [0, 1] over the grid, the
// point farthest above the chord from the first to the last point (Kneedle). Flat curves give
// the smallest r reaching the best U. Always returns an element of grid.
double knee_ratio(const std::vector<double>& grid, const std::vector<double>& s, const std::vector<double>& u);

}  // namespace grace::plan

#endif  // GRACE_PLAN_CONTROLLED_GROUPING_H_
