// Speedups of compare rows: against the reference row and against the best baseline at the same
// memory and comm scheme (the rules are in grace/compare.h, CompareRow). Internal to the
// experiment module.
#ifndef GRACE_EXPERIMENT_SPEEDUPS_H_
#define GRACE_EXPERIMENT_SPEEDUPS_H_

#include "grace/compare.h"

namespace grace::experiment {

// Sets r.baseline (the first row that ran: contiguous/primary/flat in the default set) and every
// row's speedup fields from the rows' times, traffic and expert memory.
void assign_speedups(CompareResult& r);

}  // namespace grace::experiment

#endif  // GRACE_EXPERIMENT_SPEEDUPS_H_
