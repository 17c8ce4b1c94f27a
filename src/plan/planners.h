// The planners' factories (one file each) and the checks they share. Private to src/plan;
// the registry in planner.cpp is the only caller of the factories.
#ifndef GRACE_PLAN_PLANNERS_H_
#define GRACE_PLAN_PLANNERS_H_

#include <memory>

#include "grace/planner.h"

namespace grace::plan {

std::unique_ptr<Planner> make_contiguous_planner();
std::unique_ptr<Planner> make_eplb_planner();
std::unique_ptr<Planner> make_uniform_affinity_planner();
std::unique_ptr<Planner> make_uniform_affinity_replicas_planner();
std::unique_ptr<Planner> make_grace_paper_planner();
std::unique_ptr<Planner> make_grace_planner();

// Per-GPU sizes for E experts on G GPUs as equal as possible (the first E % G get one more).
std::vector<int> equal_sizes(int experts, int gpus);

}  // namespace grace::plan

#endif  // GRACE_PLAN_PLANNERS_H_
