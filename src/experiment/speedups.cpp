// assign_speedups (see speedups.h).
#include "experiment/speedups.h"

namespace grace::experiment {
namespace {

constexpr double kMemoryTolerance = 1e-9;  // instances_per_gpu are ratios of small integers

double ratio(double num, double den) { return den > 0 ? num / den : 0; }

}  // namespace

void assign_speedups(CompareResult& r) {
  r.baseline = -1;
  for (size_t i = 0; i < r.rows.size() && r.baseline < 0; ++i)
    if (r.rows[i].ok) r.baseline = int(i);
  for (auto& row : r.rows) {
    row.speedup = row.speedup_overlap = row.speedup_vs_best = row.speedup_vs_best_overlap = row.inter_vs_least = 0;
    row.best_baseline = row.best_baseline_overlap = row.least_traffic_baseline = -1;
    if (!row.ok) continue;
    if (r.baseline >= 0) {
      const auto& ref = r.rows[r.baseline].time;
      row.speedup = ratio(ref.total_us, row.time.total_us);
      row.speedup_overlap = ratio(ref.overlap_us, row.time.overlap_us);
    }
    for (size_t j = 0; j < r.rows.size(); ++j) {
      const auto& b = r.rows[j];
      if (!b.ok || !is_baseline_planner(b.combo.planner) || b.combo.comm != row.combo.comm ||
          b.instances_per_gpu > row.instances_per_gpu + kMemoryTolerance)
        continue;
      if (row.best_baseline < 0 || b.time.total_us < r.rows[row.best_baseline].time.total_us)
        row.best_baseline = int(j);
      if (row.best_baseline_overlap < 0 || b.time.overlap_us < r.rows[row.best_baseline_overlap].time.overlap_us)
        row.best_baseline_overlap = int(j);
      if (row.least_traffic_baseline < 0 ||
          b.inter_mb_per_batch < r.rows[row.least_traffic_baseline].inter_mb_per_batch)
        row.least_traffic_baseline = int(j);
    }
    if (row.best_baseline >= 0) row.speedup_vs_best = ratio(r.rows[row.best_baseline].time.total_us, row.time.total_us);
    if (row.best_baseline_overlap >= 0)
      row.speedup_vs_best_overlap = ratio(r.rows[row.best_baseline_overlap].time.overlap_us, row.time.overlap_us);
    if (row.least_traffic_baseline >= 0)
      row.inter_vs_least = ratio(row.inter_mb_per_batch, r.rows[row.least_traffic_baseline].inter_mb_per_batch);
  }
}

}  // namespace grace::experiment
