#include "plan/replica_load.h"

#include <algorithm>

namespace grace::plan {

int add_load_replicas(const std::vector<double>& load, std::vector<int> free_slots, NodeSets& s) {
  const int E = int(load.size()), N = s.nodes;
  // Estimated load of every node: the sum over experts, in order, of its instances' estimates.
  // Each expert's part is kept and recomputed only when the expert gets a copy.
  std::vector<double> nload(size_t(N), 0.0), part(size_t(E) * N, 0.0);
  std::vector<int> hosts(static_cast<size_t>(E));
  auto refresh = [&](int e) {
    const std::vector<double> r = instance_load_estimate(s, load, e, 0);
    for (int n = 0; n < N; ++n) part[size_t(e) * N + n] = r[size_t(n)] * s.copies[e][n];
    hosts[size_t(e)] = s.hosting_nodes(e);
  };
  auto node_loads = [&] {
    std::fill(nload.begin(), nload.end(), 0.0);
    for (int e = 0; e < E; ++e)
      for (int n = 0; n < N; ++n) nload[size_t(n)] += part[size_t(e) * N + n];
  };
  for (int e = 0; e < E; ++e) refresh(e);
  node_loads();
  std::vector<char> full(size_t(E), 0);  // no node with room lacks the expert
  int added = 0;
  for (;;) {
    int e = -1;
    for (int x = 0; x < E; ++x)
      if (!full[x] && (e < 0 || load[x] / hosts[size_t(x)] > load[e] / hosts[size_t(e)])) e = x;
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
    refresh(e);
    node_loads();
  }
  return added;
}

}  // namespace grace::plan
