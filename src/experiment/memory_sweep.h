// The memory-traffic trade-off: combinations planned at several extra-memory levels. Internal to
// the experiment module.
#ifndef GRACE_EXPERIMENT_MEMORY_SWEEP_H_
#define GRACE_EXPERIMENT_MEMORY_SWEEP_H_

#include <functional>
#include <string>
#include <vector>

#include "experiment/row_runner.h"
#include "grace/compare.h"

namespace grace::experiment {

// For each pct (in order) and each combination: the budget redundant_slots_for_extra_pct(pct),
// then runner.run(). One progress line per point.
std::vector<SweepPoint> run_memory_sweep(RowRunner& runner, const std::vector<double>& pcts,
                                         const std::vector<Combination>& combos, int experts, int num_gpus,
                                         const std::function<void(const std::string&)>& say);

}  // namespace grace::experiment

#endif  // GRACE_EXPERIMENT_MEMORY_SWEEP_H_
