// The building blocks: size fixing, fixed-size partitions, spectral clustering, water filling,
// the knee search and the paper's replication rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "plan/controlled_grouping.h"
#include "plan/metis_partition.h"
#include "plan/partition.h"
#include "plan/plan_util.h"
#include "plan/replication.h"
#include "plan/spectral.h"

namespace grace::plan {
namespace {

// k blocks of `size` experts, strong affinity inside blocks, weak between; expert e in block
// e % k so that blocks are interleaved.
AffMat blocks(int k, int size, double in = 10, double out = 1) {
  AffMat a;
  a.n = k * size;
  a.v.assign(size_t(a.n) * a.n, 0);
  for (int i = 0; i < a.n; ++i)
    for (int j = 0; j < a.n; ++j)
      if (i != j) a.at(i, j) = (i % k == j % k) ? in : out;
  return a;
}

bool recovers_blocks(const std::vector<int>& assign, int k) {
  for (size_t i = 0; i < assign.size(); ++i)
    for (size_t j = 0; j < assign.size(); ++j)
      if ((i % k == j % k) != (assign[i] == assign[j])) return false;
  return true;
}

TEST(Spectral, RecoversPlantedBlocks) {
  auto a = blocks(4, 6);
  auto assign = spectral_clustering(a, 4);
  EXPECT_TRUE(recovers_blocks(assign, 4));
  EXPECT_DOUBLE_EQ(affinity_kept(a, assign), affinity_kept(a, [&] {
                     std::vector<int> truth(a.n);
                     for (int i = 0; i < a.n; ++i) truth[i] = i % 4;
                     return truth;
                   }()));
}

TEST(Spectral, DegenerateCases) {
  auto a = blocks(2, 3);
  EXPECT_EQ(spectral_clustering(a, 1), std::vector<int>(6, 0));
  auto each = spectral_clustering(a, 6);
  EXPECT_EQ(std::set<int>(each.begin(), each.end()).size(), 6u);
}

TEST(Partition, FixedSizesRecoverBlocksAndKeepSizes) {
  auto a = blocks(4, 5);
  auto assign = partition_fixed_sizes(a, {5, 5, 5, 5});
  EXPECT_TRUE(recovers_blocks(assign, 4));
  auto uneven = partition_fixed_sizes(a, {6, 5, 5, 4});
  std::vector<int> n(4, 0);
  for (int g : uneven) ++n[g];
  EXPECT_EQ(n, (std::vector<int>{6, 5, 5, 4}));
}

TEST(Partition, FixGroupSizesMeetsBoundsAndReleasesWeakestMembers) {
  auto a = blocks(2, 4);  // blocks {0,2,4,6} and {1,3,5,7}
  // All of block 0 plus expert 1 in group 0 (oversized), the rest in group 1.
  std::vector<int> assign = {0, 0, 0, 1, 0, 1, 0, 1};
  fix_group_sizes(a, assign, 2, {3, 3}, {4, 4});
  EXPECT_TRUE(recovers_blocks(assign, 2)) << "the intruder (expert 1) should be the one released";
  // Undersized: group 1 empty must be filled to its minimum.
  std::vector<int> all0(8, 0);
  fix_group_sizes(a, all0, 2, {2, 2}, {8, 8});
  EXPECT_GE(std::count(all0.begin(), all0.end(), 1), 2);
}

TEST(Partition, MetisKeepsBlocksTogether) {
  auto a = blocks(4, 8);
  std::vector<double> load(a.n, 1.0);
  auto part = metis_partition(a, load, 4, {}, MetisOptions{});
  EXPECT_TRUE(recovers_blocks(part, 4));
  EXPECT_EQ(part, metis_partition(a, load, 4, {}, MetisOptions{}));
}

TEST(ControlledGrouping, BoundsFollowTheRatio) {
  auto b = controlled_bounds(32, 4, 0.15, 100);  // S = 8, delta = round(1.2) = 1
  EXPECT_EQ(b.ideal, 8);
  EXPECT_EQ(b.delta, 1);
  EXPECT_EQ(b.lo, 7);
  EXPECT_EQ(b.hi, 9);
  b = controlled_bounds(32, 4, 0.5, 10);  // delta 4, hi capped by 10 slots
  EXPECT_EQ(b.lo, 4);
  EXPECT_EQ(b.hi, 10);
  b = controlled_bounds(3, 4, 0.15, 4);  // fewer experts than GPUs
  EXPECT_EQ(b.lo, 0);
}

TEST(ControlledGrouping, UnevenBlocksGetSizesWithinBounds) {
  // Blocks of sizes 10, 4, 1, 1 as the spectral start; ratio 0.15 forces [3, 5].
  AffMat a = blocks(4, 4);
  std::vector<int> initial = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 3};
  auto assign = controlled_grouping(a, 4, 0.15, 16, initial);
  std::vector<int> n(4, 0);
  for (int g : assign) ++n[g];
  for (int s : n) {
    EXPECT_GE(s, 3);
    EXPECT_LE(s, 5);
  }
}

TEST(Knee, ReturnsAGridValueAtTheBend) {
  auto grid = ratio_grid();
  ASSERT_EQ(grid.size(), 10u);
  // U rises fast up to r = 0.15 then flattens, while S grows linearly.
  std::vector<double> s, u;
  for (double r : grid) {
    s.push_back(r);
    u.push_back(r <= 0.15 ? r * 5 : 0.75 + (r - 0.15) * 0.1);
  }
  double k = knee_ratio(grid, s, u);
  EXPECT_NE(std::find(grid.begin(), grid.end(), k), grid.end());
  EXPECT_NEAR(k, 0.15, 1e-12);
  // A flat curve: the smallest r reaching the best U.
  std::vector<double> flat(grid.size(), 1.0);
  EXPECT_EQ(knee_ratio(grid, flat, flat), grid.front());
}

TEST(WaterFill, LevelsTheLowestBases) {
  auto x = water_fill({0, 2, 10}, 4);  // level 3: shares 3, 1, 0
  EXPECT_NEAR(x[0], 3, 1e-12);
  EXPECT_NEAR(x[1], 1, 1e-12);
  EXPECT_NEAR(x[2], 0, 1e-12);
  x = water_fill({0, 0}, 5);
  EXPECT_NEAR(x[0] + x[1], 5, 1e-12);
  EXPECT_NEAR(x[0], x[1], 1e-12);
}

TEST(Replication, PaperRuleCopiesTheHotSetToTheLeastLoadedGpus) {
  // 4 GPUs, one expert each except GPU 0 with two hot experts. W = {100, 10, 20, 30}.
  std::vector<double> load = {60, 40, 10, 20, 30};
  LayerPlacement lp = primaries_layer({0, 0, 1, 2, 3});
  auto r = replicate_paper(lp, load, 4, 3);
  // rho = 100 / 40 = 2.5 -> n = 2; hot set reaches 100 * 2/3 with both experts.
  EXPECT_DOUBLE_EQ(r.rho, 2.5);
  EXPECT_EQ(r.copies_wanted, 4);
  EXPECT_EQ(r.copies_placed, 4);
  ASSERT_EQ(lp.experts[0].num_instances(), 3);
  EXPECT_EQ(lp.experts[0].instances[1].gpu, 1);
  EXPECT_EQ(lp.experts[0].instances[2].gpu, 2);
  // Predicted loads: GPU 0 = 100 - 100 + 100/3; GPU 1 = 10 + 100/3; weights ~ 1 / predicted.
  double p0 = 100.0 / 3, p1 = 10 + 100.0 / 3;
  EXPECT_NEAR(lp.experts[0].instances[0].weight / lp.experts[0].instances[1].weight, p1 / p0, 1e-9);
  // With one slot per GPU left only one copy of each fits per target.
  LayerPlacement tight = primaries_layer({0, 0, 1, 2, 3});
  auto t = replicate_paper(tight, load, 4, 2);
  EXPECT_EQ(t.copies_placed, 2);
}

TEST(Replication, FillUsesEverySlotAndPrefersOtherNodes) {
  std::vector<double> load = {100, 10, 10, 10};
  LayerPlacement lp = primaries_layer({0, 1, 2, 3});  // 2 nodes x 2 GPUs, 2 slots each
  int added = replicate_fill(lp, load, 2, 2, 2);
  EXPECT_EQ(added, 4);
  // The hot expert 0 (node 0) gets its first copy on node 1.
  ASSERT_GE(lp.experts[0].num_instances(), 2);
  EXPECT_GE(lp.experts[0].instances[1].gpu, 2);
  auto g = predicted_gpu_load(lp, load, 4);
  double mx = *std::max_element(g.begin(), g.end());
  EXPECT_LT(mx, 100.0 / 2);
}

}  // namespace
}  // namespace grace::plan
