// Which experts each node hosts (grace planner, node level), for the `tar` router and
// hierarchical communication: a token crosses the node boundary once per remote node it needs,
// and tar serves an expert on the token's own node whenever the node has an instance. So a
// node's expert set decides the cross-node traffic of its tokens, whatever the weights.
//
//   add_locality_replicas  fills each node's free capacity with copies of experts it lacks,
//                          greedily by gain(e, n) = load[e] / N x l(e, n): node n's tokens that
//                          choose e, times l(e, n), the share of e's affinity that is to experts
//                          already on n (a token choosing e stays home only if its other experts
//                          are there too). The exponent 1 on l was measured best of
//                          {0, 0.5, 1, 2, 3, k - 1, 8} (docs/planners.md); k - 1, the independent-
//                          partners guess, favoured weakly used boundary experts too much. Nodes
//                          are independent (a copy on n changes only n's shares). When a node has every
//                          expert, the rest of its room goes to second copies inside the node
//                          of its most loaded instances (load balance only).
//   balance_nodes          swaps experts hosted by one node only between the most and least
//                          loaded nodes (tar load estimate below) while that narrows the gap,
//                          choosing the swap that loses the least node-internal affinity per
//                          unit of gap closed. Node loads also pace the shared NIC: a node
//                          holding the hot experts keeps its tokens home and receives the
//                          others', so balanced node loads mean balanced cross-node traffic.
//   node_load              tar estimate: instance of e on a node gets load[e] / N of the node's
//                          own tokens plus an even share of the demand of nodes without e.
//
// Deterministic: ties go to the lower index.
#ifndef GRACE_PLAN_NODE_SETS_H_
#define GRACE_PLAN_NODE_SETS_H_

#include <vector>

#include "plan/plan_util.h"

namespace grace::plan {

struct NodeSets {
  int nodes = 0;
  std::vector<int> primary_node;           // [E]
  std::vector<std::vector<int>> copies;    // [E][N]: instances of e on node n (0, 1, or more)

  NodeSets(const std::vector<int>& primary, int nodes);
  int hosting_nodes(int e) const;
  int node_count(int n) const;             // instances on node n
};

// Per (expert, node) tar load of each instance there (0 where none), and per node.
std::vector<double> instance_load_estimate(const NodeSets& s, const std::vector<double>& load, int e, int gpn);
std::vector<double> node_load(const NodeSets& s, const std::vector<double>& load);

// Returns the copies added. cap: instances a node can hold; max_in_node: copies of one expert
// a node can hold (its GPU count).
int add_locality_replicas(const AffMat& a, const std::vector<double>& load, int cap, int max_in_node,
                          NodeSets& s);

// Returns the swaps made. Stops when (max - min) <= tol x mean node load.
int balance_nodes(const AffMat& a, const std::vector<double>& load, NodeSets& s, double tol, int max_swaps);

}  // namespace grace::plan

#endif  // GRACE_PLAN_NODE_SETS_H_
