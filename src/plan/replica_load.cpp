#include "plan/replica_load.h"

#include <algorithm>

namespace grace::plan {
namespace {

// Estimated load of every node: the sum of its instances' estimates.
void node_loads(const NodeSets& s, const std::vector<double>& load, std::vector<double>& out) {
  std::fill(out.begin(), out.end(), 0.0);
  for (int e = 0; e < int(load.size()); ++e) {
    const std::vector<double> r = instance_load_estimate(s, load, e, 0);
    for (int n = 0; n < s.nodes; ++n) out[size_t(n)] += r[size_t(n)] * s.copies[e][n];
  }
}

}  // namespace

int add_load_replicas(const std::vector<double>& load, std::vector<int> free_slots, NodeSets& s) {
  const int E = int(load.size()), N = s.nodes;
  std::vector<double> nload(size_t(N), 0.0);
  node_loads(s, load, nload);
  std::vector<char> full(size_t(E), 0);  // no node with room lacks the expert
  int added = 0;
  for (;;) {
    int e = -1;
    for (int x = 0; x < E; ++x)
      if (!full[x] && (e < 0 || load[x] / s.hosting_nodes(x) > load[e] / s.hosting_nodes(e))) e = x;
    if (e < 0) break;
    int best = -1;
    for (int n = 0; n < N; ++n)
      if (free_slots[n] > 0 && !s.copies[e][n] && (best < 0 || nload[n] < nload[best])) best = n;
    if (best < 0) {
      full[e] = 1;
      continue;
    }
    s.copies[e][best] = 1;
    --free_slots[best];
    ++added;
    node_loads(s, load, nload);
  }
  return added;
}

}  // namespace grace::plan
