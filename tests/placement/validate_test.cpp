#include <gtest/gtest.h>

#include <cmath>

#include "grace/placement.h"
#include "placement/placement_fixture.h"

namespace grace {
namespace {

using testing::expect_input_error;
using testing::small_placement;
using testing::toy_model;

TEST(Placement, GpuSlotsListPrimariesThenReplicas) {
  Placement p = small_placement();
  auto s = p.gpu_slots(0);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], (std::vector<int>{0, 1, 5}));
  EXPECT_EQ(s[1], (std::vector<int>{2, 3, 5}));
  EXPECT_EQ(s[2], (std::vector<int>{4, 5}));
  EXPECT_EQ(s[3], (std::vector<int>{6, 7, 0}));
  EXPECT_EQ(p.num_instances(0), 11);
  EXPECT_EQ(p.num_instances(1), 8);
}

TEST(Placement, ValidPlacementPasses) {
  EXPECT_NO_THROW(validate_placement(small_placement(), parse_topology("2x2"), toy_model(), "x.json"));
}

TEST(Placement, RejectsGpuOutOfRange) {
  Placement p = small_placement();
  p.layers[1].experts[7].instances[0].gpu = 9;
  expect_input_error([&] { validate_placement(p, parse_topology("2x2"), toy_model(), "x.json"); },
                     {"placement 'x.json': layer 1, expert 7: instance on GPU 9 but the topology has 4 GPUs"});
  p.layers[1].experts[7].instances[0].gpu = -1;
  expect_input_error([&] { validate_placement(p, parse_topology("2x2"), toy_model()); }, {"GPU -1"});
}

TEST(Placement, RejectsDuplicateMissingAndBadWeights) {
  auto topo = parse_topology("2x2");
  Placement p = small_placement();
  p.layers[0].experts[0].instances[1].gpu = 0;
  expect_input_error([&] { validate_placement(p, topo, toy_model(), "x.json"); },
                     {"layer 0, expert 0: two instances on GPU 0"});
  p = small_placement();
  p.layers[1].experts[3].instances.clear();
  expect_input_error([&] { validate_placement(p, topo, toy_model(), "x.json"); }, {"layer 1, expert 3: no instance"});
  for (double w : {0.0, -0.25, std::nan("")}) {
    p = small_placement();
    p.layers[0].experts[0].instances[1].weight = w;
    expect_input_error([&] { validate_placement(p, topo, toy_model(), "x.json"); },
                       {"layer 0, expert 0: weight", "must be positive"});
  }
  p = small_placement();
  p.layers[0].experts[0].instances[1].weight = 0.5;
  expect_input_error([&] { validate_placement(p, topo, toy_model(), "x.json"); },
                     {"layer 0, expert 0: weights sum to 1.25"});
}

TEST(Placement, RejectsShapeMismatches) {
  auto topo = parse_topology("2x2");
  expect_input_error([&] { validate_placement(small_placement(), parse_topology("1x4"), toy_model(), "x.json"); },
                     {"x.json", "2x2", "1x4"});
  ModelSpec bigger = generic_model(2, 16, 2);
  expect_input_error([&] { validate_placement(small_placement(), topo, bigger, "x.json"); },
                     {"2 layers x 8 experts", "2 x 16"});
  Placement p = small_placement();
  p.layers.pop_back();
  expect_input_error([&] { validate_placement(p, topo, toy_model()); }, {"num_layers is 2 but 1 layers"});
  p = small_placement();
  p.layers[1].experts.pop_back();
  expect_input_error([&] { validate_placement(p, topo, toy_model()); }, {"layer 1: 7 experts listed, expected 8"});
}

TEST(Placement, RejectsSlotOverflowOfPlacementAndTopology) {
  Placement p = small_placement();
  p.slots_per_gpu = 2;
  expect_input_error([&] { validate_placement(p, parse_topology("2x2"), toy_model(), "x.json"); },
                     {"layer 0, GPU 0: 3 instances but the placement has 2 slots per GPU"});
  Topology t = parse_topology("2x2");
  t.slots_per_gpu = 2;
  expect_input_error([&] { validate_placement(small_placement(), t, toy_model(), "x.json"); },
                     {"layer 0, GPU 0: 3 instances but the topology '2x2' has 2 slots per GPU"});
  t.slots_per_gpu = 3;
  EXPECT_NO_THROW(validate_placement(small_placement(), t, toy_model()));
}

TEST(Placement, RejectsExpertMemoryOverflow) {
  // toy expert: 3 x 2048 x 1408 x 2 bytes = 17.3 MB. GPU 0 holds 3 + 2 = 5 instances.
  ModelSpec m = toy_model();
  Topology t = parse_topology("2x2");
  const double gb = double(m.expert_bytes()) / 1e9;
  t.expert_memory_GB = 5 * gb;
  EXPECT_NO_THROW(validate_placement(small_placement(), t, m));
  t.expert_memory_GB = 4.5 * gb;
  expect_input_error([&] { validate_placement(small_placement(), t, m, "x.json"); },
                     {"placement 'x.json': GPU 0: 5 expert instances over all layers", "expert_memory_GB"});
}

TEST(PlacementHash, StableAndSensitiveToEveryInstance) {
  Placement p = small_placement();
  const uint64_t h = placement_hash(p);
  EXPECT_EQ(h, placement_hash(small_placement()));
  // Pinned: the hash is part of the engine's start-up agreement and must not drift. The value
  // was cross-checked with an independent Python FNV-1a of the serialisation in docs/formats.md.
  EXPECT_EQ(h, 0x513b987750ca7c76ull) << std::hex << h;
  Placement q = small_placement();
  q.layers[1].experts[6].instances[0].gpu = 2;
  EXPECT_NE(placement_hash(q), h);
  q = small_placement();
  q.layers[0].experts[0].instances[0].weight = 0.5;
  q.layers[0].experts[0].instances[1].weight = 0.5;
  EXPECT_NE(placement_hash(q), h);
  q = small_placement();
  std::swap(q.layers[0].experts[5].instances[0], q.layers[0].experts[5].instances[1]);  // other primary
  EXPECT_NE(placement_hash(q), h);
  q = small_placement();
  q.layers[0].experts[5].instances.pop_back();
  q.layers[0].experts[5].instances[0].weight = q.layers[0].experts[5].instances[1].weight = 0.5;
  EXPECT_NE(placement_hash(q), h);
}

}  // namespace
}  // namespace grace
