#include "plan/node_sets.h"

#include <algorithm>
#include <cmath>

#include "grace/error.h"

namespace grace::plan {
namespace {

// conn[x * N + n] = affinity of x to the experts hosted on n.
std::vector<double> node_connectivity(const AffMat& a, const NodeSets& s) {
  const int E = a.n, N = s.nodes;
  std::vector<double> conn(size_t(E) * N, 0.0);
  for (int y = 0; y < E; ++y)
    for (int n = 0; n < N; ++n) {
      if (!s.copies[y][n]) continue;
      for (int x = 0; x < E; ++x) conn[size_t(x) * N + n] += a(x, y);
    }
  return conn;
}

void shift_connectivity(const AffMat& a, std::vector<double>& conn, int N, int e, int from, int to) {
  for (int x = 0; x < a.n; ++x) {
    double w = a(x, e);
    if (w == 0) continue;
    if (from >= 0) conn[size_t(x) * N + from] -= w;
    if (to >= 0) conn[size_t(x) * N + to] += w;
  }
}

}  // namespace

NodeSets::NodeSets(const std::vector<int>& primary, int num_nodes) : nodes(num_nodes), primary_node(primary) {
  copies.assign(primary.size(), std::vector<int>(num_nodes, 0));
  for (size_t e = 0; e < primary.size(); ++e) {
    GRACE_CHECK(primary[e] >= 0 && primary[e] < num_nodes, "expert {} on node {} of {}", e, primary[e], num_nodes);
    copies[e][primary[e]] = 1;
  }
}

int NodeSets::hosting_nodes(int e) const {
  int h = 0;
  for (int c : copies[e]) h += c > 0;
  return h;
}

int NodeSets::node_count(int n) const {
  int c = 0;
  for (const auto& row : copies) c += row[n];
  return c;
}

std::vector<double> instance_load_estimate(const NodeSets& s, const std::vector<double>& load, int e, int) {
  const int N = s.nodes, h = s.hosting_nodes(e);
  std::vector<double> r(N, 0.0);
  const double per_node = load[e] / N + load[e] * double(N - h) / N / std::max(1, h);
  for (int n = 0; n < N; ++n)
    if (s.copies[e][n]) r[n] = per_node / s.copies[e][n];
  return r;
}

std::vector<double> node_load(const NodeSets& s, const std::vector<double>& load) {
  const int N = s.nodes;
  std::vector<double> r(N, 0.0);
  for (size_t e = 0; e < s.copies.size(); ++e) {
    const int h = s.hosting_nodes(int(e));
    const double per_node = load[e] / N + load[e] * double(N - h) / N / std::max(1, h);
    for (int n = 0; n < N; ++n)
      if (s.copies[e][n]) r[n] += per_node;
  }
  return r;
}

int add_locality_replicas(const AffMat& a, const std::vector<double>& load, int cap, int max_in_node,
                          NodeSets& s) {
  const int E = a.n, N = s.nodes;
  std::vector<double> rowsum(E, 0.0);
  for (int x = 0; x < E; ++x)
    for (int y = 0; y < E; ++y) rowsum[x] += a(x, y);
  auto conn = node_connectivity(a, s);
  int added = 0;
  for (int n = 0; n < N; ++n) {
    int room = cap - s.node_count(n);
    // Copies of experts the node lacks, most tokens made local first.
    while (room > 0) {
      int best = -1;
      double best_gain = -1;
      for (int e = 0; e < E; ++e) {
        if (s.copies[e][n]) continue;
        double share = rowsum[e] > 0 ? conn[size_t(e) * N + n] / rowsum[e] : 1.0;
        double gain = load[e] / N * share;
        if (gain > best_gain) best_gain = gain, best = e;
      }
      if (best < 0) break;
      s.copies[best][n] = 1;
      shift_connectivity(a, conn, N, best, -1, n);
      --room, ++added;
    }
    // Every expert is here already: second copies of the most loaded instances (balance only).
    while (room > 0) {
      int best = -1;
      double best_v = -1;
      for (int e = 0; e < E; ++e) {
        if (s.copies[e][n] == 0 || s.copies[e][n] >= max_in_node) continue;
        double v = instance_load_estimate(s, load, e, 0)[n];
        if (v > best_v) best_v = v, best = e;
      }
      if (best < 0) break;
      ++s.copies[best][n];
      --room, ++added;
    }
  }
  return added;
}

int balance_nodes(const AffMat& a, const std::vector<double>& load, NodeSets& s, double tol, int max_swaps) {
  const int E = a.n, N = s.nodes;
  if (N < 2) return 0;
  auto conn = node_connectivity(a, s);
  auto c = [&](int x, int n) { return conn[size_t(x) * N + n]; };
  int swaps = 0;
  for (; swaps < max_swaps; ++swaps) {
    auto nl = node_load(s, load);
    int hi = int(std::max_element(nl.begin(), nl.end()) - nl.begin());
    int lo = int(std::min_element(nl.begin(), nl.end()) - nl.begin());
    double mean = 0;
    for (double v : nl) mean += v / N;
    const double gap = nl[hi] - nl[lo];
    if (gap <= tol * mean || gap <= 0) break;
    // Only experts hosted once, by one node, move: their whole load moves with them.
    std::vector<int> on_hi, on_lo;
    for (int e = 0; e < E; ++e) {
      if (s.hosting_nodes(e) != 1) continue;
      if (s.copies[e][hi] == 1) on_hi.push_back(e);
      if (s.copies[e][lo] == 1) on_lo.push_back(e);
    }
    int best_e = -1, best_f = -1;
    double best_score = 0;
    for (int e : on_hi)
      for (int f : on_lo) {
        double delta = load[e] - load[f];
        if (delta <= 0 || delta >= gap) continue;
        double closed = gap - std::fabs(gap - 2 * delta);
        double loss = c(e, hi) - c(e, lo) + c(f, lo) - c(f, hi) + 2 * a(e, f);
        double score = (loss + 1e-9) / closed;  // ties: the swap closing most
        if (best_e < 0 || score < best_score) best_score = score, best_e = e, best_f = f;
      }
    if (best_e < 0) break;
    s.copies[best_e][hi] = 0, s.copies[best_e][lo] = 1, s.primary_node[best_e] = lo;
    shift_connectivity(a, conn, N, best_e, hi, lo);
    s.copies[best_f][lo] = 0, s.copies[best_f][hi] = 1, s.primary_node[best_f] = hi;
    shift_connectivity(a, conn, N, best_f, lo, hi);
  }
  return swaps;
}

}  // namespace grace::plan
