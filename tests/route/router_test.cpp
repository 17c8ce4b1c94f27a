// Each router's rule on hand-built placements (2 nodes; see router.h for the rules).
#include "grace/router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "grace/error.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

using testing::hand_placement;
using testing::hand_topology;

// Routes n tokens that all chose the experts `ids` (top_k = ids.size()) from `src`.
std::vector<int> route_same(Router& r, int64_t n, const std::vector<expert_t>& ids, int src, int64_t first_token = 0,
                            int layer = 0) {
  const int k = int(ids.size());
  std::vector<expert_t> all;
  for (int64_t t = 0; t < n; ++t) all.insert(all.end(), ids.begin(), ids.end());
  std::vector<int> srcs(size_t(n), src);
  std::vector<int64_t> tok(static_cast<size_t>(n));
  std::iota(tok.begin(), tok.end(), first_token);
  RouteBatch b{layer, n, k, all.data(), k, srcs.data(), tok.data()};
  std::vector<int> dest(size_t(n) * k, -1);
  r.route(b, dest.data());
  return dest;
}

std::map<int, double> shares(const std::vector<int>& dest) {
  std::map<int, double> m;
  for (int d : dest) m[d] += 1.0 / double(dest.size());
  return m;
}

TEST(Router, NamesAndUnknownName) {
  auto names = router_names();
  EXPECT_GE(names.size(), 9u);
  for (const char* want : {"primary", "wrr", "tar", "round-robin", "local-first", "load-aware", "cover",
                           "sglang-static", "sglang-dynamic"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  Placement p = hand_placement(1, 2, {{{{0, 1}}, {{1, 1}}}});
  Topology topo = hand_topology(1, 2);
  for (const auto& n : names) EXPECT_EQ(make_router(n, p, topo)->name(), n);
  EXPECT_THROW(make_router("nope", p, topo), InputError);
}

TEST(Router, RegistryTableIsConsistent) {
  const auto infos = router_infos();
  const auto names = router_names();
  ASSERT_EQ(infos.size(), names.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    EXPECT_EQ(infos[i].name, names[i]);
    EXPECT_FALSE(infos[i].description.empty()) << infos[i].name;
    EXPECT_EQ(infos[i].description.find('\n'), std::string::npos) << infos[i].name;  // one line
    EXPECT_EQ(router_description(infos[i].name), infos[i].description);
    for (size_t j = 0; j < i; ++j) EXPECT_NE(infos[j].name, infos[i].name);  // unique
  }
  EXPECT_THROW(router_description("nope"), InputError);
  try {
    check_router_name("nope", "--router");
    ADD_FAILURE() << "no throw";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("--router: unknown router 'nope'", 0), 0u) << msg;
    for (const auto& n : names) EXPECT_NE(msg.find(n), std::string::npos) << msg;
  }
}

// router_prefers_own_node (what grace's planner reads to decide whether replicas on other nodes
// can keep traffic home) must say what each router does: 2 nodes x 2 GPUs, every slot full (so
// SGLang's served layout adds no copy); expert 0 on GPU 2 (primary, node 1) and GPU 1 (node 0);
// tokens on GPU 0, which holds no copy. A router that prefers the own node never leaves node 0;
// the others send some pairs to GPU 2.
TEST(Router, PrefersOwnNodeFlagMatchesWhatTheRouterDoes) {
  Placement p = hand_placement(2, 2, {{{{2, 1}, {1, 1}}, {{0, 1}, {3, 1}}}});
  p.slots_per_gpu = 1;
  Topology topo = hand_topology(2, 2);
  int own_node_routers = 0;
  for (const auto& name : router_names()) {
    const auto d = route_same(*make_router(name, p, topo, 5), 400, {0}, 0);
    const auto remote = std::count(d.begin(), d.end(), 2);
    EXPECT_EQ(remote + std::count(d.begin(), d.end(), 1), 400) << name;
    if (router_prefers_own_node(name)) {
      EXPECT_EQ(remote, 0) << name;
      ++own_node_routers;
    } else {
      EXPECT_GT(remote, 0) << name;
    }
  }
  EXPECT_EQ(own_node_routers, 4);  // tar, local-first, load-aware, cover
  EXPECT_THROW(router_prefers_own_node("nope"), InputError);
}

TEST(Router, PrimaryAlwaysPrimary) {
  // 2 nodes x 2 GPUs; expert 0 on GPUs 3 (primary), 0, 1.
  Placement p = hand_placement(2, 2, {{{{3, 1}, {0, 5}, {1, 5}}}});
  auto r = make_router("primary", p, hand_topology(2, 2));
  for (int src = 0; src < 4; ++src)
    for (int d : route_same(*r, 50, {0}, src)) EXPECT_EQ(d, 3);
}

TEST(Router, TarPrefersOwnGpuThenOwnNode) {
  // Expert 0 on GPUs 0, 1, 2 (node 0 has two, node 1 one).
  Placement p = hand_placement(2, 2, {{{{0, 1}, {1, 1}, {2, 1}}}});
  auto r = make_router("tar", p, hand_topology(2, 2));
  for (int d : route_same(*r, 100, {0}, 1)) EXPECT_EQ(d, 1);  // own GPU
  for (int d : route_same(*r, 100, {0}, 2)) EXPECT_EQ(d, 2);  // own GPU
  for (int d : route_same(*r, 100, {0}, 3)) EXPECT_EQ(d, 2);  // only instance on node 1
}

TEST(Router, TarNodeTierFollowsWeights) {
  // 2 x 4: expert 0 on GPUs 1 (0.2), 2 (0.6), 5 (0.2). A token on GPU 0 stays on node 0 and
  // splits 1:3 between GPUs 1 and 2; a token on GPU 6 uses GPU 5.
  Placement p = hand_placement(2, 4, {{{{1, 0.2}, {2, 0.6}, {5, 0.2}}}});
  auto r = make_router("tar", p, hand_topology(2, 4));
  auto s = shares(route_same(*r, 40000, {0}, 0));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[1], 0.25, 0.015);
  EXPECT_NEAR(s[2], 0.75, 0.015);
  for (int d : route_same(*r, 100, {0}, 6)) EXPECT_EQ(d, 5);
}

TEST(Router, TarRemoteTierFollowsWeights) {
  // No instance on node 1: all instances by weight.
  Placement p = hand_placement(2, 2, {{{{0, 0.3}, {1, 0.7}}}});
  auto r = make_router("tar", p, hand_topology(2, 2));
  auto s = shares(route_same(*r, 40000, {0}, 3));
  EXPECT_NEAR(s[0], 0.3, 0.015);
  EXPECT_NEAR(s[1], 0.7, 0.015);
}

TEST(Router, WrrProportionsIgnoreLocality) {
  Placement p = hand_placement(2, 2, {{{{0, 0.5}, {1, 0.3}, {3, 0.2}}}});
  auto r = make_router("wrr", p, hand_topology(2, 2), 7);
  auto s = shares(route_same(*r, 50000, {0}, 0));  // a token on GPU 0 still goes elsewhere
  EXPECT_NEAR(s[0], 0.5, 0.012);
  EXPECT_NEAR(s[1], 0.3, 0.012);
  EXPECT_NEAR(s[3], 0.2, 0.012);
}

TEST(Router, RoundRobinCyclesByTokenIndex) {
  Placement p = hand_placement(2, 2, {{{{3, 1}, {1, 1}, {2, 1}}, {{0, 1}}}});
  auto r = make_router("round-robin", p, hand_topology(2, 2));
  const int order[3] = {3, 1, 2};
  auto d = route_same(*r, 30, {0, 1}, 0, /*first_token=*/100);
  for (int t = 0; t < 30; ++t) {
    EXPECT_EQ(d[size_t(t) * 2], order[(100 + t) % 3]) << "token " << t;
    EXPECT_EQ(d[size_t(t) * 2 + 1], 0);
  }
}

TEST(Router, LocalFirstOwnGpuOwnNodeThenUniform) {
  // 2 x 4. Expert 0 on node 1 only, skewed weights: a token from node 0 picks uniformly.
  // Expert 1 on GPUs 0 and 2 (node 0) and 5: own GPU, else uniform on own node.
  Placement p = hand_placement(2, 4, {{{{4, 0.8}, {5, 0.1}, {6, 0.1}}, {{0, 0.9}, {2, 0.05}, {5, 0.05}}}});
  auto r = make_router("local-first", p, hand_topology(2, 4), 3);
  auto s = shares(route_same(*r, 45000, {0}, 1));
  ASSERT_EQ(s.size(), 3u);
  for (int g : {4, 5, 6}) EXPECT_NEAR(s[g], 1.0 / 3, 0.012) << "gpu " << g;
  for (int d : route_same(*r, 100, {1}, 2)) EXPECT_EQ(d, 2);
  auto s1 = shares(route_same(*r, 40000, {1}, 3));
  ASSERT_EQ(s1.size(), 2u);
  EXPECT_NEAR(s1[0], 0.5, 0.012);
  EXPECT_NEAR(s1[2], 0.5, 0.012);
  for (int d : route_same(*r, 100, {1}, 7)) EXPECT_EQ(d, 5);
}

TEST(Router, LoadAwareBalancesSkewedBatchBetterThanTar) {
  // Expert 0 on GPUs 0 and 1 (equal weights); expert 1 (hot) only on GPU 0. Every token on
  // node 1 picks both. tar splits expert 0 evenly: GPU 0 gets 1.5 n. load-aware sends expert
  // 0 to GPU 1: n and n.
  Placement p = hand_placement(2, 2, {{{{0, 1}, {1, 1}}, {{0, 1}}}});
  Topology topo = hand_topology(2, 2);
  const int64_t n = 1000;
  auto count = [&](const std::vector<int>& dest) {
    std::vector<int64_t> load(4, 0);
    for (int d : dest) ++load[size_t(d)];
    return load;
  };
  auto tar = count(route_same(*make_router("tar", p, topo), n, {0, 1}, 2));
  auto la = count(route_same(*make_router("load-aware", p, topo), n, {0, 1}, 2));
  EXPECT_GT(*std::max_element(tar.begin(), tar.end()), n + n / 4);
  EXPECT_EQ(la[0], n);
  EXPECT_EQ(la[1], n);
  // Tiers are kept: a token on GPU 1 still uses its own instance.
  for (int d : route_same(*make_router("load-aware", p, topo), 10, {0}, 1)) EXPECT_EQ(d, 1);
}

TEST(Router, LoadAwareRespectsWeightsAndResetsPerCall) {
  // Weights 3:1 with no other load: the batch splits 3:1 exactly (greedy on (load+1)/w).
  Placement p = hand_placement(2, 2, {{{{0, 3}, {1, 1}}}});
  auto r = make_router("load-aware", p, hand_topology(2, 2));
  for (int rep = 0; rep < 2; ++rep) {  // the second call starts from zero loads again
    auto d = route_same(*r, 400, {0}, 3);
    EXPECT_EQ(std::count(d.begin(), d.end(), 0), 300);
    EXPECT_EQ(std::count(d.begin(), d.end(), 1), 100);
  }
}

TEST(Router, DeterministicAndSeeded) {
  Placement p = hand_placement(2, 2, {{{{0, 1}, {1, 1}, {2, 1}, {3, 1}}}});
  Topology topo = hand_topology(2, 2);
  Placement remote = hand_placement(2, 2, {{{{0, 1}, {1, 1}}}});
  for (const auto& name : router_names()) {  // tokens on GPU 3 have only remote choices
    auto a = route_same(*make_router(name, remote, topo, 5), 500, {0}, 3);
    auto b = route_same(*make_router(name, remote, topo, 5), 500, {0}, 3);
    EXPECT_EQ(a, b) << name;
    // sglang-*: the exported layout fills GPU 3's empty slots with a copy, so it stays local.
    if (name != "primary" && name.rfind("sglang-", 0) != 0) {
      EXPECT_GT(std::count(a.begin(), a.end(), 1), 100) << name;
    }
  }
  // wrr: a different seed gives different choices; the same token index gives the same
  // choice whatever else is in the batch.
  auto a = route_same(*make_router("wrr", p, topo, 5), 500, {0}, 0);
  auto c = route_same(*make_router("wrr", p, topo, 6), 500, {0}, 0);
  EXPECT_NE(a, c);
  auto tail = route_same(*make_router("wrr", p, topo, 5), 100, {0}, 0, /*first_token=*/400);
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), a.begin() + 400));
}

TEST(Router, UsesLayerAndStride) {
  // Two layers; ids packed as in a Trace ([token][layer][k]); layer 1 reads its own ids.
  Placement p = hand_placement(1, 2, {{{{0, 1}}, {{1, 1}}}, {{{1, 1}}, {{0, 1}}}});
  auto r = make_router("tar", p, hand_topology(1, 2));
  std::vector<expert_t> ids = {0, 1, 1, 1};  // token 0: layer 0 -> 0, layer 1 -> 1; token 1: 1, 1
  std::vector<int> src = {0, 0};
  RouteBatch b{1, 2, 1, ids.data() + 1, 2, src.data(), nullptr};
  std::vector<int> dest(2);
  r->route(b, dest.data());
  EXPECT_EQ(dest, (std::vector<int>{0, 0}));  // expert 1 at layer 1 lives on GPU 0
  b.layer = 0;
  b.ids = ids.data();
  r->route(b, dest.data());
  EXPECT_EQ(dest, (std::vector<int>{0, 1}));
}

}  // namespace
}  // namespace grace
