// Iterated local search on the node split (kick_refine_nodes, node_refine.h): a few random swaps
// of experts between nodes knock the split out of the local optimum moves and swaps stop in,
// then rebalancing and the search bring it back down, and the result replaces the split when
// it visits fewer nodes and stays within the load limit.
#include <algorithm>
#include <random>

#include "plan/node_refine.h"

namespace grace::plan {
namespace {

double heaviest_node(const std::vector<double>& load, int N, const std::vector<int>& node_of) {
  std::vector<double> nl(size_t(N), 0.0);
  for (size_t e = 0; e < load.size(); ++e) nl[size_t(node_of[e])] += load[e];
  return *std::max_element(nl.begin(), nl.end());
}

}  // namespace

int64_t kick_refine_nodes(const Hypergraph& hg, const std::vector<double>& load, int N, const NodeRefineOptions& opt,
                          int kicks, int swaps_per_kick, uint64_t seed, std::vector<int>& node_of) {
  const int E = int(load.size());
  if (N < 2 || E < 2 || hg.num_edges == 0 || kicks <= 0) return 0;
  std::mt19937_64 rng(seed);
  double total = 0;
  for (double v : load) total += v;
  const double cap = total / N * (1 + opt.load_tol);
  const int64_t start = connectivity(hg, node_of, N);
  int64_t best = start;
  double best_heaviest = heaviest_node(load, N, node_of);
  for (int k = 0; k < kicks; ++k) {
    std::vector<int> s = node_of;
    for (int p = 0; p < swaps_per_kick; ++p) {
      const int a = int(rng() % uint64_t(E));
      int b = int(rng() % uint64_t(E));
      for (int t = 0; s[size_t(b)] == s[size_t(a)] && t < 64; ++t) b = int(rng() % uint64_t(E));
      std::swap(s[size_t(a)], s[size_t(b)]);  // a swap keeps every node's size
    }
    if (heaviest_node(load, N, s) > cap) rebalance_nodes(hg, load, N, opt, s);  // else it moves nothing
    refine_nodes(hg, load, N, opt, s);
    const int64_t c = connectivity(hg, s, N);
    const double heaviest = heaviest_node(load, N, s);
    // Within the limit, or no heavier than the split it would replace (which may not have
    // reached the limit either).
    if (c < best && heaviest <= std::max(cap, best_heaviest) + 1e-9) {
      node_of = std::move(s);
      best = c, best_heaviest = heaviest;
    }
  }
  return start - best;
}

}  // namespace grace::plan
