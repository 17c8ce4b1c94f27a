// run_compare: plan on one part of the trace, then route, evaluate and simulate every
// combination on the other part (see grace/experiment.h).
#include <fmt/core.h>

#include "experiment/compare_input.h"
#include "experiment/memory_sweep.h"
#include "experiment/row_runner.h"
#include "experiment/speedups.h"
#include "grace/error.h"
#include "grace/experiment.h"

namespace grace {

std::vector<Combination> default_combinations() {
  using C = CommScheme;
  return {{"contiguous", "primary", C::kFlat},
          {"eplb", "round-robin", C::kFlat},
          {"eplb", "wrr", C::kFlat},
          {"eplb", "tar", C::kHierarchical},
          {"uniform-affinity", "primary", C::kHierarchical},
          {"uniform-affinity+replicas", "cover", C::kHierarchical},
          {"grace-paper", "tar", C::kHierarchical},
          {"grace", "tar", C::kHierarchical},
          {"grace", "cover", C::kHierarchical},
          {"grace", "cover", C::kHierarchical, 0}};
}

std::vector<Combination> default_sweep_combinations() {
  using C = CommScheme;
  return {{"grace", "cover", C::kHierarchical}, {"eplb", "tar", C::kHierarchical}};
}

CompareResult run_compare(const CompareOptions& o, const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  if (o.sweep_memory) {
    GRACE_INPUT_CHECK(!o.sweep_pcts.empty(), "--sweep-memory: no extra-memory levels given");
    for (size_t i = 0; i < o.sweep_pcts.size(); ++i) {
      const double pct = o.sweep_pcts[i];
      GRACE_INPUT_CHECK(pct >= 0 && pct <= 1000, "--sweep-pct: extra memory {}% must be in [0, 1000]", pct);
      for (size_t j = 0; j < i; ++j) GRACE_INPUT_CHECK(o.sweep_pcts[j] != pct, "--sweep-pct: {}% is given twice", pct);
    }
  }
  CompareResult r;
  const experiment::CompareInput in = experiment::load_compare_input(o, r);
  PlanOptions popt;
  popt.seed = o.seed;
  popt.node_load_limit = o.node_load_limit;
  popt.node_kicks = o.node_kicks;
  popt.batch_tokens = o.batch_tokens;
  popt.batching = o.batching;
  popt.threads = o.threads;
  experiment::RowRunner runner(in, o.batch_tokens, o.batching, popt);
  const auto combos = o.combinations.empty() ? default_combinations() : o.combinations;
  for (size_t i = 0; i < combos.size(); ++i) {
    CompareRow row = runner.run(combos[i], &r.num_batches);
    const std::string tag = fmt::format("compare [{}/{}] {}", i + 1, combos.size(), row.combo.label());
    if (!row.ok)
      say(tag + ": skipped: " + row.skipped);
    else
      say(
          fmt::format("{}: plan {:.2f} s, cross-node {:.2f} MB/batch, load max/mean {:.2f}, {:.1f} us/layer "
                      "({:.1f} with overlap), {:.2f} instances/GPU",
                      tag, row.plan_seconds, row.inter_mb_per_batch, row.load_max_mean, row.time.total_us,
                      row.time.overlap_us, row.instances_per_gpu));
    r.rows.push_back(std::move(row));
  }
  experiment::assign_speedups(r);
  if (o.sweep_memory) {
    const auto sweep = o.sweep_combinations.empty() ? default_sweep_combinations() : o.sweep_combinations;
    r.memory_sweep =
        experiment::run_memory_sweep(runner, o.sweep_pcts, sweep, in.model.experts, in.topo.num_gpus(), say);
  }
  return r;
}

}  // namespace grace
