// Runs one combination: plan (shared between rows with the same planner and budget), route,
// evaluate out of sample, simulate; fills a CompareRow. Internal to the experiment module.
#ifndef GRACE_EXPERIMENT_ROW_RUNNER_H_
#define GRACE_EXPERIMENT_ROW_RUNNER_H_

#include <map>
#include <string>
#include <tuple>

#include "experiment/compare_input.h"
#include "grace/compare.h"
#include "grace/placement.h"
#include "grace/planner.h"

namespace grace::experiment {

class RowRunner {
 public:
  // `plan` holds the options every row plans with (its redundant_slots is the row's own).
  RowRunner(const CompareInput& in, int64_t batch_tokens, Batching batching, const PlanOptions& plan)
      : in_(in), batch_tokens_(batch_tokens), batching_(batching), plan_options_(plan) {}

  // A row for `combo`: skipped (with the reason) when its planner or router is not registered,
  // else planned, evaluated and simulated. Sets *num_batches when it ran.
  CompareRow run(const Combination& combo, int64_t* num_batches = nullptr);

 private:
  struct Plan {
    Placement placement;
    double seconds = 0;
  };
  const Plan& plan(const std::string& planner, int redundant, const std::string& target);

  const CompareInput& in_;
  int64_t batch_tokens_;
  Batching batching_;
  PlanOptions plan_options_;
  std::map<std::tuple<std::string, int, std::string>, Plan> plans_;
};

}  // namespace grace::experiment

#endif  // GRACE_EXPERIMENT_ROW_RUNNER_H_
