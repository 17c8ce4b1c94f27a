// Expert memory of hand-built placements, and the sweep's budget rounding.
#include "grace/expert_memory.h"

#include <gtest/gtest.h>

#include "route/hand_placement.h"

namespace grace {
namespace {

using testing::hand_placement;

TEST(ExpertMemory, HandPlacement) {
  // 1 node x 2 GPUs, 2 layers, 4 experts.
  // Layer 0: e0 on GPUs 0 and 1, e1 on 0, e2 and e3 on 1   -> GPU 0: 2, GPU 1: 3.
  // Layer 1: e0, e1, e2 on 0, e3 on 1 and 0                -> GPU 0: 4, GPU 1: 1.
  // Summed: GPU 0 holds 6, GPU 1 holds 4 -> fullest GPU 6 / 2 layers = 3 per layer.
  // Instances 10 vs one copy 8 -> 25% extra.
  Placement p = hand_placement(
      1, 2, {{{{0, 1}, {1, 1}}, {{0, 1}}, {{1, 1}}, {{1, 1}}}, {{{0, 1}}, {{0, 1}}, {{0, 1}}, {{1, 1}, {0, 1}}}});
  const ExpertMemory m = expert_memory(p);
  EXPECT_DOUBLE_EQ(m.instances_per_gpu, 3.0);
  EXPECT_DOUBLE_EQ(m.extra_pct, 25.0);
}

TEST(ExpertMemory, OneCopyEach) {
  Placement p = hand_placement(2, 1, {{{{0, 1}}, {{1, 1}}, {{0, 1}}, {{1, 1}}}});
  const ExpertMemory m = expert_memory(p);
  EXPECT_DOUBLE_EQ(m.instances_per_gpu, 2.0);
  EXPECT_DOUBLE_EQ(m.extra_pct, 0.0);
  EXPECT_DOUBLE_EQ(expert_memory(Placement{}).instances_per_gpu, 0.0);  // empty: zeros, no division by 0
}

TEST(ExpertMemory, SweepBudgets) {
  EXPECT_EQ(redundant_slots_for_extra_pct(0, 64, 8), 0);
  EXPECT_EQ(redundant_slots_for_extra_pct(12.5, 64, 8), 8);
  EXPECT_EQ(redundant_slots_for_extra_pct(25, 64, 8), 16);
  EXPECT_EQ(redundant_slots_for_extra_pct(100, 256, 64), 256);
  EXPECT_EQ(redundant_slots_for_extra_pct(25, 256, 64), 64);  // DeepSeek-V3 on 8x8: one slot per GPU
  EXPECT_EQ(redundant_slots_for_extra_pct(12.5, 32, 8), 8);   // 4 rounded up: every GPU gets 5 slots
  EXPECT_EQ(redundant_slots_for_extra_pct(0, 30, 8), 2);      // 30 experts need 4 slots on each of 8 GPUs
  EXPECT_EQ(redundant_slots_for_extra_pct(-3, 64, 8), 0);
}

}  // namespace
}  // namespace grace
