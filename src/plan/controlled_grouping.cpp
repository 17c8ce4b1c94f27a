#include "plan/controlled_grouping.h"

#include <algorithm>
#include <cmath>

#include "grace/error.h"
#include "plan/partition.h"

namespace grace::plan {

GroupBounds controlled_bounds(int n, int groups, double r, int slots) {
  GroupBounds b;
  b.ideal = n / groups;
  b.delta = std::max(1, int(std::lround(b.ideal * r)));
  b.lo = n >= groups ? std::max(1, b.ideal - b.delta) : 0;
  int need = (n + groups - 1) / groups;  // the smallest cap that can hold n
  b.hi = std::max(need, std::min(b.ideal + b.delta, slots));
  return b;
}

std::vector<int> controlled_grouping(const AffMat& a, int groups, double r, int slots,
                                     const std::vector<int>& initial) {
  GRACE_CHECK(int(initial.size()) == a.n, "initial grouping has {} entries for {} experts", initial.size(), a.n);
  GroupBounds b = controlled_bounds(a.n, groups, r, slots);
  std::vector<int> assign = initial;
  fix_group_sizes(a, assign, groups, std::vector<int>(groups, b.lo), std::vector<int>(groups, b.hi));
  return assign;
}

double size_spread(const std::vector<int>& assign, int groups) {
  std::vector<int> size(groups, 0);
  for (int g : assign) ++size[g];
  double mean = double(assign.size()) / groups, var = 0;
  for (int s : size) var += (s - mean) * (s - mean);
  return std::sqrt(var / groups);
}

std::vector<double> ratio_grid() {
  std::vector<double> g;
  for (int i = 1; i <= 10; ++i) g.push_back(0.05 * i);
  return g;
}

double knee_ratio(const std::vector<double>& grid, const std::vector<double>& s, const std::vector<double>& u) {
  GRACE_CHECK(!grid.empty() && s.size() == grid.size() && u.size() == grid.size(),
              "knee search over {} ratios with {} / {} points", grid.size(), s.size(), u.size());
  auto [smin, smax] = std::minmax_element(s.begin(), s.end());
  auto [umin, umax] = std::minmax_element(u.begin(), u.end());
  double sr = *smax - *smin, ur = *umax - *umin;
  size_t best = 0;
  if (sr <= 1e-12 || ur <= 1e-12) {
    // A flat curve has no knee: the smallest r reaching the best U.
    for (size_t i = 0; i < grid.size(); ++i)
      if (u[i] >= *umax - 1e-12) return grid[i];
    return grid.front();
  }
  // Normalised points; the chord runs from the first to the last point of the grid.
  auto xs = [&](size_t i) { return (s[i] - *smin) / sr; };
  auto ys = [&](size_t i) { return (u[i] - *umin) / ur; };
  double x0 = xs(0), y0 = ys(0), x1 = xs(grid.size() - 1), y1 = ys(grid.size() - 1);
  double dx = x1 - x0, dy = y1 - y0, len = std::hypot(dx, dy);
  double best_d = -1e300;
  for (size_t i = 0; i < grid.size(); ++i) {
    // Signed distance above the chord (positive where U is high for the S paid); with a
    // degenerate chord, the U gained per unit of S.
    double d = len > 1e-12 ? (dx * (ys(i) - y0) - dy * (xs(i) - x0)) / len : ys(i) - xs(i);
    if (d > best_d + 1e-12) best_d = d, best = i;
  }
  return grid[best];
}

}  // namespace grace::plan
