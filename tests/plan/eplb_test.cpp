// eplb's replication step counted by hand: every one of the G x slots - E redundant slots per
// layer gets a replica, and the expert with the largest load per replica gets the next one, so
// the hottest expert ends with the most copies. Profiles are hand-written loads (eplb ignores
// affinity), planned through the public registry.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "grace/model.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/topology.h"

namespace grace {
namespace {

// One layer per entry of `loads`; affinity all zero.
Profile load_profile(const std::vector<std::vector<int64_t>>& loads, int top_k = 2) {
  const int E = int(loads.front().size());
  Profile p(int(loads.size()), E, top_k);
  int64_t picks = 0;
  for (size_t l = 0; l < loads.size(); ++l) {
    p.layers[l].load = loads[l];
    for (int64_t v : loads[l]) picks += v;
  }
  p.tokens = picks / (top_k * int64_t(loads.size()));
  return p;
}

Placement plan_eplb(const Profile& prof, const std::string& topo_spec, int redundant) {
  ModelSpec m = generic_model(prof.num_layers, prof.num_experts, prof.top_k);
  m.name = "eplb-test";
  Topology t = parse_topology(topo_spec);
  PlanOptions o;
  o.redundant_slots = redundant;
  return make_planner("eplb")->plan(PlanContext{prof, m, t, o});
}

std::vector<int> copies(const Placement& p, int layer) {
  std::vector<int> c;
  for (const auto& ep : p.layers[size_t(layer)].experts) c.push_back(ep.num_instances());
  return c;
}

TEST(Eplb, OneNodeReplicasCountedByHand) {
  // 1 node x 4 GPUs, 8 experts, 4 redundant slots: 3 slots per GPU, 12 instances. Loads
  // 1000, 300, 100 x 6. Replicas go by load per copy: e0 (1000 -> 500), e0 (500 -> 333),
  // e0 (333 -> 250; now on every GPU, its cap), then e1 (300 -> 150).
  Placement p = plan_eplb(load_profile({{1000, 300, 100, 100, 100, 100, 100, 100}}), "1x4", 4);
  EXPECT_EQ(p.slots_per_gpu, 3);
  EXPECT_EQ(p.num_instances(0), 12);  // 8 primaries + G x slots - E = 4 replicas
  EXPECT_EQ(copies(p, 0), (std::vector<int>{4, 2, 1, 1, 1, 1, 1, 1}));
  // Equal shares among an expert's copies, each on a different GPU, every slot used.
  for (const auto& ep : p.layers[0].experts) {
    std::vector<int> gpus;
    for (const auto& in : ep.instances) {
      EXPECT_DOUBLE_EQ(in.weight, 1.0 / ep.num_instances());
      gpus.push_back(in.gpu);
    }
    std::sort(gpus.begin(), gpus.end());
    EXPECT_EQ(std::unique(gpus.begin(), gpus.end()), gpus.end());
  }
  for (const auto& slots : p.gpu_slots(0)) EXPECT_EQ(slots.size(), 3u);
}

TEST(Eplb, EveryRedundantSlotFilledPerLayerAndNode) {
  // 2 nodes x 2 GPUs, 8 experts, 4 redundant slots: 3 slots per GPU, 6 per node; each node
  // gets 4 experts and 2 replicas. The hottest expert moves from layer to layer.
  std::vector<std::vector<int64_t>> loads;
  for (int l = 0; l < 4; ++l) {
    std::vector<int64_t> v(8, 0);
    for (int e = 0; e < 8; ++e) v[size_t((e + 3 * l) % 8)] = 800 - 90 * e;  // distinct, descending
    loads.push_back(v);
  }
  Placement p = plan_eplb(load_profile(loads), "2x2", 4);
  ASSERT_EQ(p.slots_per_gpu, 3);
  for (int l = 0; l < 4; ++l) {
    SCOPED_TRACE("layer " + std::to_string(l));
    EXPECT_EQ(p.num_instances(l), 2 * 2 * 3);  // G x slots: E primaries + (G x slots - E) replicas
    std::vector<int> per_node(2, 0);
    for (const auto& ep : p.layers[size_t(l)].experts)
      for (const auto& in : ep.instances) ++per_node[size_t(in.gpu / 2)];
    EXPECT_EQ(per_node, (std::vector<int>{6, 6}));
    const auto c = copies(p, l);
    const int hottest = (3 * l) % 8, coldest = (7 + 3 * l) % 8;
    EXPECT_EQ(c[size_t(hottest)], 2);  // its node's cap: one copy per GPU of the node
    EXPECT_EQ(*std::max_element(c.begin(), c.end()), c[size_t(hottest)]);
    EXPECT_EQ(c[size_t(coldest)], 1);
    // Each node replicates its own two heaviest experts: replicas stay on the primary's node.
    for (const auto& ep : p.layers[size_t(l)].experts)
      for (const auto& in : ep.instances) EXPECT_EQ(in.gpu / 2, ep.primary_gpu() / 2);
  }
}

TEST(Eplb, HotterExpertNeverHasFewerCopies) {
  // 1 node x 8 GPUs, 16 experts, 24 redundant slots (5 slots per GPU, 40 instances): a steep
  // skew, so copies must be monotone in load.
  std::vector<int64_t> load(16);
  for (int e = 0; e < 16; ++e) load[size_t(e)] = 4096 >> (e / 2);
  Placement p = plan_eplb(load_profile({load}), "1x8", 24);
  ASSERT_EQ(p.slots_per_gpu, 5);
  EXPECT_EQ(p.num_instances(0), 40);
  const auto c = copies(p, 0);
  for (int e = 1; e < 16; ++e) EXPECT_GE(c[size_t(e - 1)], c[size_t(e)]) << "expert " << e;
  EXPECT_EQ(c[0], 8);  // 4096 per copy beats everything until it is on every GPU
}

}  // namespace
}  // namespace grace
