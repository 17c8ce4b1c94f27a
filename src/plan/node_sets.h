// Which experts each node hosts (grace planner, node level): the primary node of every expert
// and the number of instances of it on each node. With a locality-first router a node's expert
// set decides the cross-node traffic of its tokens, whatever the weights.
//
//   instance_load_estimate  tar estimate: an instance of e on a node gets load[e] / N of the
//                           node's own tokens plus an even share of the demand of the nodes
//                           without e (divided among the node's copies).
#ifndef GRACE_PLAN_NODE_SETS_H_
#define GRACE_PLAN_NODE_SETS_H_

#include <vector>

#include "plan/plan_util.h"

namespace grace::plan {

struct NodeSets {
  int nodes = 0;
  std::vector<int> primary_node;         // [E]
  std::vector<std::vector<int>> copies;  // [E][N]: instances of e on node n (0, 1, or more)

  NodeSets(const std::vector<int>& primary, int nodes);
  int hosting_nodes(int e) const;
  int node_count(int n) const;  // instances on node n
};

// Per node, the tar load of each instance of e there (0 where none).
std::vector<double> instance_load_estimate(const NodeSets& s, const std::vector<double>& load, int e, int gpn);
// The same estimate on node n alone (no allocation).
double instance_load_at(const NodeSets& s, const std::vector<double>& load, int e, int n);

}  // namespace grace::plan

#endif  // GRACE_PLAN_NODE_SETS_H_
