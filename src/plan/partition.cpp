#include "plan/partition.h"

#include <algorithm>
#include <numeric>

#include "grace/error.h"

namespace grace::plan {
namespace {

// conn[x * k + g] = affinity of x to the members of group g (x itself excluded: zero diagonal).
std::vector<double> connectivity(const AffMat& a, const std::vector<int>& assign, int k) {
  std::vector<double> conn(size_t(a.n) * k, 0.0);
  for (int x = 0; x < a.n; ++x)
    for (int y = 0; y < a.n; ++y)
      if (assign[y] >= 0) conn[size_t(x) * k + assign[y]] += a(x, y);
  return conn;
}

void move_member(const AffMat& a, std::vector<int>& assign, std::vector<double>& conn, int k, int x, int to) {
  int from = assign[x];
  for (int y = 0; y < a.n; ++y) {
    double w = a(y, x);
    if (w == 0) continue;
    if (from >= 0) conn[size_t(y) * k + from] -= w;
    if (to >= 0) conn[size_t(y) * k + to] += w;
  }
  assign[x] = to;
}

}  // namespace

double affinity_kept(const AffMat& a, const std::vector<int>& assign) {
  double total = 0, kept = 0;
  for (int i = 0; i < a.n; ++i)
    for (int j = i + 1; j < a.n; ++j) {
      total += a(i, j);
      if (assign[i] == assign[j]) kept += a(i, j);
    }
  return total > 0 ? kept / total : 0.0;
}

void fix_group_sizes(const AffMat& a, std::vector<int>& assign, int k, const std::vector<int>& lo,
                     const std::vector<int>& hi) {
  GRACE_CHECK(int(lo.size()) == k && int(hi.size()) == k, "bounds for {} groups", k);
  GRACE_CHECK(std::accumulate(lo.begin(), lo.end(), 0) <= a.n && std::accumulate(hi.begin(), hi.end(), 0) >= a.n,
              "{} members cannot meet the size bounds", a.n);
  std::vector<int> size(k, 0);
  for (int g : assign) ++size[g];
  auto conn = connectivity(a, assign, k);
  auto c = [&](int x, int g) { return conn[size_t(x) * k + g]; };

  // Release: an oversized group keeps its hi members with the most affinity to the group.
  std::vector<int> pool;
  for (int g = 0; g < k; ++g) {
    if (size[g] <= hi[g]) continue;
    std::vector<int> mem;
    for (int x = 0; x < a.n; ++x)
      if (assign[x] == g) mem.push_back(x);
    std::stable_sort(mem.begin(), mem.end(), [&](int x, int y) { return c(x, g) > c(y, g); });
    for (size_t i = hi[g]; i < mem.size(); ++i) pool.push_back(mem[i]);
  }
  for (int x : pool) {
    --size[assign[x]];
    move_member(a, assign, conn, k, x, -1);
  }
  // Rejoin: repeatedly the (released expert, group with room) pair adding the most affinity.
  while (!pool.empty()) {
    int best_i = -1, best_g = -1;
    double best = -1;
    for (int i = 0; i < int(pool.size()); ++i)
      for (int g = 0; g < k; ++g) {
        if (size[g] >= hi[g]) continue;
        double v = c(pool[i], g);
        if (v > best || (v == best && best_g >= 0 && size[g] < size[best_g])) {
          best = v, best_i = i, best_g = g;
        }
      }
    GRACE_CHECK(best_g >= 0, "no group has room for a released expert");
    int x = pool[best_i];
    pool.erase(pool.begin() + best_i);
    move_member(a, assign, conn, k, x, best_g);
    ++size[best_g];
  }
  // Fill: an undersized group takes the member (of a group above its minimum) losing least.
  for (int g = 0; g < k; ++g) {
    while (size[g] < lo[g]) {
      int best_x = -1;
      double best = 0;
      for (int x = 0; x < a.n; ++x) {
        int h = assign[x];
        if (h == g || size[h] <= lo[h]) continue;
        double loss = c(x, h) - c(x, g);
        if (best_x < 0 || loss < best) best = loss, best_x = x;
      }
      GRACE_CHECK(best_x >= 0, "no member can move to undersized group {}", g);
      --size[assign[best_x]];
      move_member(a, assign, conn, k, best_x, g);
      ++size[g];
    }
  }
}

int refine_by_swaps(const AffMat& a, std::vector<int>& assign, int k, int max_passes) {
  auto conn = connectivity(a, assign, k);
  auto c = [&](int x, int g) { return conn[size_t(x) * k + g]; };
  int swaps = 0;
  for (int pass = 0; pass < max_passes; ++pass) {
    int pass_swaps = 0;
    for (int x = 0; x < a.n; ++x) {
      int gx = assign[x], best_y = -1;
      double best = 1e-9;
      for (int y = 0; y < a.n; ++y) {
        int gy = assign[y];
        if (gy == gx) continue;
        double gain = c(x, gy) - c(x, gx) + c(y, gx) - c(y, gy) - 2 * a(x, y);
        if (gain > best) best = gain, best_y = y;
      }
      if (best_y < 0) continue;
      int gy = assign[best_y];
      move_member(a, assign, conn, k, x, gy);
      move_member(a, assign, conn, k, best_y, gx);
      ++pass_swaps;
    }
    swaps += pass_swaps;
    if (pass_swaps == 0) break;
  }
  return swaps;
}

std::vector<int> partition_fixed_sizes(const AffMat& a, const std::vector<int>& sizes, int max_passes) {
  const int k = int(sizes.size()), n = a.n;
  GRACE_CHECK(std::accumulate(sizes.begin(), sizes.end(), 0) == n, "sizes must sum to {}", n);
  std::vector<int> assign(n, -1);
  // Greedy growth: each group starts from the unassigned expert with the most affinity to the
  // other unassigned ones and adds the expert most attached to the group so far.
  std::vector<double> free_conn(n, 0.0);
  for (int x = 0; x < n; ++x)
    for (int y = 0; y < n; ++y) free_conn[x] += a(x, y);
  for (int g = 0; g < k; ++g) {
    std::vector<double> to_group(n, 0.0);
    for (int m = 0; m < sizes[g]; ++m) {
      int best = -1;
      for (int x = 0; x < n; ++x) {
        if (assign[x] >= 0) continue;
        if (best < 0) {
          best = x;
          continue;
        }
        double vx = m == 0 ? free_conn[x] : to_group[x], vb = m == 0 ? free_conn[best] : to_group[best];
        if (vx > vb || (vx == vb && free_conn[x] > free_conn[best])) best = x;
      }
      GRACE_CHECK(best >= 0, "ran out of experts while growing group {}", g);
      assign[best] = g;
      for (int y = 0; y < n; ++y) {
        to_group[y] += a(y, best);
        free_conn[y] -= a(y, best);
      }
    }
  }
  if (k > 1) refine_by_swaps(a, assign, k, max_passes);
  return assign;
}

}  // namespace grace::plan
