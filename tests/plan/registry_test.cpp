// The planner registry and Planner::plan's input checks.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "grace/error.h"
#include "grace/planner.h"

namespace grace {
namespace {

TEST(PlannerRegistry, ListsTheSixPlanners) {
  auto names = planner_names();
  EXPECT_EQ(names, (std::vector<std::string>{"contiguous", "eplb", "uniform-affinity", "uniform-affinity+replicas",
                                             "grace-paper", "grace"}));
  for (const auto& n : names) {
    auto p = make_planner(n);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->name(), n);
    EXPECT_FALSE(p->description().empty());
  }
}

TEST(PlannerRegistry, UnknownNameThrowsInputErrorListingNames) {
  try {
    make_planner("nope");
    FAIL() << "make_planner(\"nope\") did not throw";
  } catch (const InputError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("nope"), std::string::npos) << msg;
    EXPECT_NE(msg.find("grace-paper"), std::string::npos) << msg;
    EXPECT_NE(msg.find("contiguous"), std::string::npos) << msg;
  }
}

TEST(PlannerInput, TooFewSlotsIsAnInputError) {
  auto prof = testing::make_profile({});
  auto model = testing::model_for(prof);
  Topology topo = parse_topology("1x2");
  topo.slots_per_gpu = 4;  // 8 slots for 16 experts
  PlanContext ctx{prof, model, topo, {}};
  EXPECT_THROW(make_planner("contiguous")->plan(ctx), InputError);
}

TEST(PlannerInput, ProfileModelMismatchIsAnInputError) {
  auto prof = testing::make_profile({});
  ModelSpec model = generic_model(prof.num_layers, 32, prof.top_k);
  Topology topo = parse_topology("1x2");
  PlanContext ctx{prof, model, topo, {}};
  EXPECT_THROW(make_planner("grace")->plan(ctx), InputError);
}

TEST(PlannerInput, SlotsFollowTopologyRedundancyAndMemory) {
  auto prof = testing::make_profile({});
  auto model = testing::model_for(prof);
  Topology topo = parse_topology("2x2");
  PlanOptions opt;
  EXPECT_EQ((PlanContext{prof, model, topo, opt}.slots()), 5);  // ceil((16 + 4) / 4)
  opt.redundant_slots = 0;
  EXPECT_EQ((PlanContext{prof, model, topo, opt}.slots()), 4);
  opt.redundant_slots = 8;
  EXPECT_EQ((PlanContext{prof, model, topo, opt}.slots()), 6);
  // Memory for 3 experts per layer per GPU caps the slots.
  topo.expert_memory_GB = 3.0 * model.expert_bytes() * model.moe_layers / 1e9;
  EXPECT_EQ((PlanContext{prof, model, topo, opt}.slots()), 3);
}

}  // namespace
}  // namespace grace
