// Node-level local search on the real traffic objective (grace planner). With hierarchical
// communication a token crosses to each remote node that serves one of its experts once, so
// for primaries only (one instance per expert) the cross-node copies of a token from a
// uniformly chosen source node are lambda x (N - 1) / N, lambda = the number of nodes its k
// experts sit on. refine_nodes lowers sum lambda over the sampled tokens (the hypergraph
// connectivity objective) by moving single experts, or swapping two, between nodes:
//   gain(e -> b) = #edges of e where e is the last pin on its node - #edges of e with no pin on b,
// kept exact under every move by re-counting the edges of the moved expert (cost per move:
// degree x k x N). A move must keep node sizes within [min, max] and may not push a node's
// load above (1 + load_tol) x mean unless it lowers the larger of the two nodes' loads.
// Deterministic: experts are visited in index order and ties go to the lower index.
#ifndef GRACE_PLAN_NODE_REFINE_H_
#define GRACE_PLAN_NODE_REFINE_H_

#include <cstdint>
#include <vector>

#include "plan/hypergraph.h"

namespace grace::plan {

struct NodeRefineOptions {
  std::vector<int> min_size, max_size;  // [N] experts (primaries) a node may hold
  double load_tol = 0.03;
  int max_rounds = 6;
};

// Returns the reduction of sum lambda over the edges.
int64_t refine_nodes(const Hypergraph& hg, const std::vector<double>& load, int nodes, const NodeRefineOptions& opt,
                     std::vector<int>& node_of);

// Brings every node's load to at most (1 + load_tol) x mean (as far as moves and swaps of one
// expert can), each step taking, among the moves off the heaviest node that lower its load,
// the one that loses the least connectivity. Returns the steps made.
int rebalance_nodes(const Hypergraph& hg, const std::vector<double>& load, int nodes, const NodeRefineOptions& opt,
                    std::vector<int>& node_of);

// rebalance_nodes from node_of for each load limit in `tols` (opt.load_tol unused) in one run:
// the steps do not depend on the limit, only where they stop, so a looser limit's result is a
// point on the tighter one's way. Element i is what rebalance_nodes with tols[i] leaves.
std::vector<std::vector<int>> rebalance_nodes_each(const Hypergraph& hg, const std::vector<double>& load, int nodes,
                                                   const NodeRefineOptions& opt, const std::vector<double>& tols,
                                                   std::vector<int> node_of);

// Iterated local search from node_of (node_kicks.cpp), for splits where moves and swaps stop
// in a local optimum a longer search can leave: `kicks` times, swap `swaps_per_kick` random
// pairs of experts on different nodes of the best split so far, bring the node loads within
// opt.load_tol (rebalance_nodes) and search again (refine_nodes); the result replaces the best
// split when its sum lambda is lower and its heaviest node is within the limit, or no heavier
// than the split it replaces. Node sizes stay within opt's bounds. Deterministic for a seed.
// Returns the reduction of sum lambda (>= 0).
int64_t kick_refine_nodes(const Hypergraph& hg, const std::vector<double>& load, int nodes, const NodeRefineOptions& opt,
                          int kicks, int swaps_per_kick, uint64_t seed, std::vector<int>& node_of);

}  // namespace grace::plan

#endif  // GRACE_PLAN_NODE_REFINE_H_
