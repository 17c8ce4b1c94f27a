// assign_speedups on hand-made rows: the reference speedup, the best baseline at the same memory
// and comm scheme (by time, by time with overlap, by cross-node traffic).
#include "experiment/speedups.h"

#include <gtest/gtest.h>

namespace grace {
namespace {

CompareRow row(const std::string& planner, CommScheme comm, double inst, double us, double ovl_us, double inter,
               bool ok = true) {
  CompareRow r;
  r.combo = {planner, "tar", comm};
  r.ok = ok;
  r.instances_per_gpu = inst;
  r.time.total_us = us;
  r.time.overlap_us = ovl_us;
  r.inter_mb_per_batch = inter;
  return r;
}

TEST(Speedups, BestBaselineAtSameMemoryAndComm) {
  using C = CommScheme;
  CompareResult r;
  r.rows = {row("no-such", C::kFlat, 4, 1, 1, 1, /*ok=*/false),        // 0: skipped, never the reference
            row("contiguous", C::kFlat, 4, 100, 90, 50),               // 1: the reference
            row("eplb", C::kFlat, 5, 80, 70, 50),                      // 2
            row("uniform-affinity", C::kHierarchical, 4, 60, 30, 10),  // 3
            row("eplb", C::kHierarchical, 5, 50, 35, 12),              // 4
            row("grace", C::kHierarchical, 5, 40, 20, 9),              // 5: may use 3 and 4
            row("grace", C::kHierarchical, 4, 55, 33, 11),             // 6: may use 3 only (4 holds more)
            row("grace-paper", C::kFlat, 3, 90, 80, 40)};              // 7: no flat baseline with <= 3
  experiment::assign_speedups(r);
  EXPECT_EQ(r.baseline, 1);
  EXPECT_DOUBLE_EQ(r.rows[5].speedup, 100.0 / 40);
  EXPECT_DOUBLE_EQ(r.rows[5].speedup_overlap, 90.0 / 20);
  EXPECT_EQ(r.rows[5].best_baseline, 4);
  EXPECT_DOUBLE_EQ(r.rows[5].speedup_vs_best, 50.0 / 40);
  EXPECT_EQ(r.rows[5].best_baseline_overlap, 3);
  EXPECT_DOUBLE_EQ(r.rows[5].speedup_vs_best_overlap, 30.0 / 20);
  EXPECT_EQ(r.rows[5].least_traffic_baseline, 3);
  EXPECT_DOUBLE_EQ(r.rows[5].inter_vs_least, 9.0 / 10);
  EXPECT_EQ(r.rows[6].best_baseline, 3);
  EXPECT_DOUBLE_EQ(r.rows[6].speedup_vs_best, 60.0 / 55);
  EXPECT_DOUBLE_EQ(r.rows[6].inter_vs_least, 11.0 / 10);
  // Baselines against themselves and the other baselines.
  EXPECT_EQ(r.rows[1].best_baseline, 1);
  EXPECT_DOUBLE_EQ(r.rows[1].speedup_vs_best, 1.0);
  EXPECT_EQ(r.rows[2].best_baseline, 2);
  EXPECT_EQ(r.rows[3].best_baseline, 3);
  EXPECT_EQ(r.rows[4].best_baseline, 4);
  // Nothing qualifies: -1 and zero ratios; skipped rows get nothing.
  EXPECT_EQ(r.rows[7].best_baseline, -1);
  EXPECT_EQ(r.rows[7].speedup_vs_best, 0.0);
  EXPECT_EQ(r.rows[7].inter_vs_least, 0.0);
  EXPECT_EQ(r.rows[0].best_baseline, -1);
  EXPECT_EQ(r.rows[0].speedup, 0.0);
}

TEST(Speedups, NoRowRan) {
  CompareResult r;
  r.rows = {row("contiguous", CommScheme::kFlat, 4, 1, 1, 1, false)};
  experiment::assign_speedups(r);
  EXPECT_EQ(r.baseline, -1);
  EXPECT_EQ(r.rows[0].speedup, 0.0);
}

}  // namespace
}  // namespace grace
