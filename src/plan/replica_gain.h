// Replicas placed by their exact traffic gain (grace planner, node level). A token from node s
// needs, besides s, every node that serves one of its experts missing on s; counting each
// missing expert at its home node (its primary's node), its cost is the number of distinct home
// nodes among its missing experts (exact for 2 nodes, an upper bound of the cover for more).
// A copy of e on node s removes e from the missing set of s's tokens, which saves one node
// visit for every sampled token of e whose other missing experts all live elsewhere than
// e's home. add_gain_replicas gives each free slot of node s, greedily, to the copy with the
// largest saving (sampled tokens x 1/N, the share of tokens that come from s), updating the
// savings of the affected experts exactly after each copy. Slots whose best saving is zero are
// left to the caller.
#ifndef GRACE_PLAN_REPLICA_GAIN_H_
#define GRACE_PLAN_REPLICA_GAIN_H_

#include <vector>

#include "plan/hypergraph.h"
#include "plan/node_sets.h"

namespace grace::plan {

// free_slots[n]: instances node n may still take. Adds copies to s (at most one of an expert
// per node) and returns the copies added.
int add_gain_replicas(const Hypergraph& hg, std::vector<int> free_slots, NodeSets& s);

}  // namespace grace::plan

#endif  // GRACE_PLAN_REPLICA_GAIN_H_
