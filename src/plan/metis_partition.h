// Graph partitioning of an affinity matrix with METIS (METIS_PartGraphKway): minimises the
// affinity cut between parts (= maximises affinity kept inside parts) under two balance
// constraints, expert count and expert load, with per-part target fractions (tpwgts).
// Deterministic: METIS runs with a fixed seed. METIS only balances approximately; callers fix
// hard capacity limits afterwards (fix_group_sizes).
#ifndef GRACE_PLAN_METIS_PARTITION_H_
#define GRACE_PLAN_METIS_PARTITION_H_

#include <cstdint>
#include <vector>

#include "plan/plan_util.h"

namespace grace::plan {

struct MetisOptions {
  double count_imbalance = 1.02;  // ubvec for the expert-count constraint
  double load_imbalance = 1.05;   // ubvec for the load constraint
  uint64_t seed = 0;
  // Each expert keeps only its strongest `max_degree` affinity edges (the union over both
  // ends is kept, so the graph stays symmetric). Dense graphs make METIS slow (~1 s for 256
  // experts with two constraints) and the weak edges carry little of the affinity. 0: all.
  int max_degree = 16;
  bool balance_load = true;  // false: one constraint (count), much faster
};

// Part in [0, k) per row of a. `fractions` (size k, summing to 1) is each part's target share
// of both count and load; empty means equal parts. k == 1 or n <= k handled without METIS.
std::vector<int> metis_partition(const AffMat& a, const std::vector<double>& load, int k,
                                 const std::vector<double>& fractions, const MetisOptions& opt);

}  // namespace grace::plan

#endif  // GRACE_PLAN_METIS_PARTITION_H_
