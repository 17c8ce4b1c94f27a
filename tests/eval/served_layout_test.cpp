// The SGLang routers route over the layout the server holds: the placement's spare slots filled
// with extra replicas (serving.h served_placement). The evaluator counts their traffic against
// that layout; a placement with spare slots (what `grace plan --policy contiguous` makes on 2x4)
// used to stop with an internal error ("sent ... to GPU 0, which does not host it").
#include <gtest/gtest.h>

#include <random>

#include "grace/evaluate.h"
#include "grace/model.h"
#include "grace/router.h"
#include "grace/serving.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

using testing::hand_placement;
using testing::hand_topology;

// 2 nodes x 2 GPUs, expert e on GPU e, two slots per GPU: one spare slot on every GPU.
Placement spare_slot_placement() {
  Placement p = hand_placement(2, 2, {{{{0, 1}}, {{1, 1}}, {{2, 1}}, {{3, 1}}}});
  p.slots_per_gpu = 2;
  return p;
}

Trace random_trace(int64_t n) {
  std::mt19937 rng(5);
  Trace t;
  t.num_layers = 1;
  t.top_k = 2;
  t.num_experts = 4;
  for (int64_t i = 0; i < n; ++i) {
    const int a = int(rng() % 4), b = (a + 1 + int(rng() % 3)) % 4;
    t.ids.push_back(expert_t(a));
    t.ids.push_back(expert_t(b));
  }
  t.seq_offsets = {0};
  while (t.seq_offsets.back() < n) t.seq_offsets.push_back(std::min<int64_t>(n, t.seq_offsets.back() + 7));
  return t;
}

TEST(ServedLayout, FillsEverySpareSlotAndKeepsThePlannedInstancesFirst) {
  const Placement p = spare_slot_placement();
  const Placement s = served_placement(p);
  ASSERT_EQ(s.layers.size(), 1u);
  const auto slots = s.gpu_slots(0);
  for (int g = 0; g < 4; ++g) EXPECT_EQ(slots[size_t(g)].size(), 2u) << "GPU " << g;
  for (int e = 0; e < 4; ++e) {
    const auto& in = s.layers[0].experts[size_t(e)].instances;
    ASSERT_EQ(in.size(), 2u) << "expert " << e;  // 4 spare slots, each expert gets one copy
    EXPECT_EQ(in[0].gpu, e);                     // the planned primary stays first
    // The fill prefers a node without a copy: the extra copy sits on the other node.
    EXPECT_NE(in[1].gpu / 2, e / 2) << "expert " << e;
    EXPECT_DOUBLE_EQ(in[0].weight + in[1].weight, 1.0);
  }
  // A placement with no spare slot is served as planned.
  Placement full = spare_slot_placement();
  full.slots_per_gpu = 1;
  const Placement same = served_placement(full);
  for (int e = 0; e < 4; ++e) EXPECT_EQ(same.layers[0].experts[size_t(e)].instances.size(), 1u);
}

TEST(ServedLayout, SglangRoutersEvaluateAPlacementWithSpareSlots) {
  const Placement p = spare_slot_placement();
  const Trace t = random_trace(4000);
  EXPECT_TRUE(router_routes_served_layout("sglang-static"));
  EXPECT_TRUE(router_routes_served_layout("sglang-dynamic"));
  EXPECT_FALSE(router_routes_served_layout("tar"));
  for (const char* router : {"sglang-static", "sglang-dynamic"}) {
    SCOPED_TRACE(router);
    EvalOptions o;
    o.router = router;
    o.batch_tokens = 1000;
    EvalResult r;
    ASSERT_NO_THROW(r = evaluate(t, p, hand_topology(2, 2), generic_model(1, 4, 2, 1000), o));
    EXPECT_EQ(r.total.pairs, 4000 * 2);
    EXPECT_EQ(r.total.pairs_same_gpu + r.total.pairs_same_node + r.total.pairs_remote, r.total.pairs);
  }
  // sglang-static serves a pair on the token's own GPU whenever the served layout has a copy
  // there: with two of the four experts on every GPU, half of the pairs (in expectation).
  EvalOptions o;
  o.router = "sglang-static";
  o.batch_tokens = 1000;
  const EvalResult r = evaluate(t, p, hand_topology(2, 2), generic_model(1, 4, 2, 1000), o);
  EXPECT_NEAR(double(r.total.pairs_same_gpu) / double(r.total.pairs), 0.5, 0.05);
}

}  // namespace
}  // namespace grace
