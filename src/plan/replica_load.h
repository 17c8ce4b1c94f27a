// Replicas placed by load (grace planner, node level), the other rule beside replica_gain.h:
// every free slot goes to the expert with the largest load per hosting node (DeepSeek EPLB's
// rule, counted in nodes), on the node with room that lacks it and has the least estimated load
// (instance_load_estimate: a node serves its own tokens of the expert and a share of the nodes
// without it). Hot experts on every node keep node loads even when the mix of the traffic
// shifts away from the planning traffic, at some cost in cross-node visits; the grace planner
// builds both and keeps the faster by the simulator. Ties go to the lower expert / node index.
#ifndef GRACE_PLAN_REPLICA_LOAD_H_
#define GRACE_PLAN_REPLICA_LOAD_H_

#include <vector>

#include "plan/node_sets.h"

namespace grace::plan {

// free_slots[n]: instances node n may still take. Adds copies to s (at most one of an expert
// per node) and returns the copies added.
int add_load_replicas(const std::vector<double>& load, std::vector<int> free_slots, NodeSets& s);

}  // namespace grace::plan

#endif  // GRACE_PLAN_REPLICA_LOAD_H_
