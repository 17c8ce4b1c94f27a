// The flat routing table's layout (grace/routing_table.h).
#include "grace/routing_table.h"

#include <gtest/gtest.h>

#include "grace/error.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

using testing::hand_placement;
using testing::hand_topology;

TEST(RoutingTable, OffsetsThresholdsAndNodes) {
  // 2 x 2; layer 0: expert 0 on 0 (0.5), 2 (0.25), 3 (0.25); expert 1 on 1.
  Placement p = hand_placement(2, 2, {{{{0, 2}, {2, 1}, {3, 1}}, {{1, 1}}}});
  RoutingTable t(p, hand_topology(2, 2));
  EXPECT_EQ(t.inst_offset(), (std::vector<int32_t>{0, 3, 4}));
  EXPECT_EQ(t.inst_gpu(), (std::vector<int32_t>{0, 2, 3, 1}));
  const uint32_t one = RoutingTable::kWeightOne;
  EXPECT_EQ(t.inst_cum(), (std::vector<uint32_t>{one / 2, one / 4 * 3, one, one}));
  // Candidates, rows (layer, node): (n0, e0) = {0}, (n0, e1) = {1}, (n1, e0) = {2, 3},
  // (n1, e1) = all instances of e1 = {1} (none on node 1).
  EXPECT_EQ(t.cand_offset(), (std::vector<int32_t>{0, 1, 2, 4, 5}));
  EXPECT_EQ(t.cand_gpu(), (std::vector<int32_t>{0, 1, 2, 3, 1}));
  EXPECT_EQ(t.cand_cum(), (std::vector<uint32_t>{one, one, one / 2, one, one}));
  EXPECT_TRUE(t.cand_on_node(t.lne(0, 1, 0), 1));
  EXPECT_FALSE(t.cand_on_node(t.lne(0, 1, 1), 1));
  EXPECT_TRUE(t.hosts(0, 0));
  EXPECT_FALSE(t.hosts(0, 1));
  EXPECT_TRUE(t.hosts(1, 1));
  // Slots follow Placement::gpu_slots: GPU 0 holds expert 0, GPU 2 holds replica of 0.
  EXPECT_EQ(t.slot_of(0, 0), 0);
  EXPECT_EQ(t.slot_of(0, 1), -1);
  EXPECT_EQ(t.slot_of(1, 1), 0);
  EXPECT_EQ(t.gpu_slot_offset(0)[4], 4);
}

TEST(RoutingTable, BitsetBeyond32Gpus) {
  // 2 x 40 GPUs: expert 0 on GPUs 5, 33 and 70.
  std::vector<std::vector<std::pair<int, double>>> layer = {{{5, 1}, {33, 1}, {70, 1}}};
  Placement p = hand_placement(2, 40, {layer});
  RoutingTable t(p, hand_topology(2, 40));
  EXPECT_EQ(t.bit_words(), 3);
  for (int g = 0; g < 80; ++g) EXPECT_EQ(t.hosts(0, g), g == 5 || g == 33 || g == 70) << g;
}

TEST(RoutingTable, PickHelpers) {
  const uint32_t cum[3] = {100, 300, RoutingTable::kWeightOne};
  EXPECT_EQ(pick_weighted(cum, 3, 0), 0);
  EXPECT_EQ(pick_weighted(cum, 3, 99), 0);
  EXPECT_EQ(pick_weighted(cum, 3, 100), 1);
  EXPECT_EQ(pick_weighted(cum, 3, RoutingTable::kWeightOne - 1), 2);
  EXPECT_EQ(pick_uniform(0xffffffffull, 5), 4);
  EXPECT_EQ(pick_uniform(0, 5), 0);
  EXPECT_NE(pick_hash(0, 0, 1, 0), pick_hash(0, 0, 2, 0));
  EXPECT_NE(pick_hash(0, 0, 1, 0), pick_hash(1, 0, 1, 0));
}

TEST(RoutingTable, RejectsShapeMismatch) {
  Placement p = hand_placement(2, 2, {{{{0, 1}}}});
  EXPECT_THROW(RoutingTable(p, hand_topology(1, 4)), InputError);
}

}  // namespace
}  // namespace grace
