// Affinity-driven partitioning of a set of experts into groups (no Eigen, no METIS):
//
//   fix_group_sizes        the method's release / rejoin / fill steps: brings every group's
//                          size into [lo_g, hi_g] while keeping as much affinity inside groups
//                          as the greedy steps can (method.md, hierarchical grouping step 2);
//   partition_fixed_sizes  groups of exactly the given sizes maximising the affinity kept
//                          inside groups (greedy growth, then pairwise-swap refinement).
//
// Everything is deterministic: ties go to the lower index.
#ifndef GRACE_PLAN_PARTITION_H_
#define GRACE_PLAN_PARTITION_H_

#include <vector>

#include "plan/plan_util.h"

namespace grace::plan {

// Share of the pairwise affinity of `a` whose two experts share a group (0 when a has none).
double affinity_kept(const AffMat& a, const std::vector<int>& assign);

// Moves members so that lo[g] <= |g| <= hi[g]. REQUIRES: sum(lo) <= n <= sum(hi).
// Oversized groups keep the hi[g] members with the most affinity to the group and release the
// rest; each released expert joins the group with room where it adds the most affinity; then
// undersized groups take, from groups above their minimum, the members whose move loses least.
void fix_group_sizes(const AffMat& a, std::vector<int>& assign, int k, const std::vector<int>& lo,
                     const std::vector<int>& hi);

// Groups of exactly sizes[g] experts. REQUIRES: sum(sizes) == a.n.
std::vector<int> partition_fixed_sizes(const AffMat& a, const std::vector<int>& sizes, int max_passes = 8);

// Pairwise-swap refinement of an existing assignment (sizes unchanged); returns swaps made.
int refine_by_swaps(const AffMat& a, std::vector<int>& assign, int k, int max_passes);

}  // namespace grace::plan

#endif  // GRACE_PLAN_PARTITION_H_
