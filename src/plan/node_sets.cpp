#include "plan/node_sets.h"

#include <algorithm>
#include <cmath>

#include "grace/error.h"

namespace grace::plan {

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

namespace {

double per_node_load(const NodeSets& s, const std::vector<double>& load, int e) {
  const int N = s.nodes, h = s.hosting_nodes(e);
  return load[e] / N + load[e] * double(N - h) / N / std::max(1, h);
}

}  // namespace

std::vector<double> instance_load_estimate(const NodeSets& s, const std::vector<double>& load, int e, int) {
  const int N = s.nodes;
  std::vector<double> r(N, 0.0);
  const double per_node = per_node_load(s, load, e);
  for (int n = 0; n < N; ++n)
    if (s.copies[e][n]) r[n] = per_node / s.copies[e][n];
  return r;
}

double instance_load_at(const NodeSets& s, const std::vector<double>& load, int e, int n) {
  return s.copies[e][n] ? per_node_load(s, load, e) / s.copies[e][n] : 0.0;
}

}  // namespace grace::plan
