// The cover router (router.h): fewest remote nodes per token, rides along on visits for balance.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "grace/router.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

using testing::hand_placement;
using testing::hand_topology;

std::vector<int> route_tokens(Router& r, const std::vector<std::vector<expert_t>>& ids, const std::vector<int>& src) {
  const int k = int(ids[0].size());
  const int64_t n = int64_t(ids.size());
  std::vector<expert_t> all;
  for (const auto& row : ids) all.insert(all.end(), row.begin(), row.end());
  std::vector<int64_t> tok(static_cast<size_t>(n));
  std::iota(tok.begin(), tok.end(), 0);
  RouteBatch b{0, n, k, all.data(), k, src.data(), tok.data()};
  std::vector<int> dest(size_t(n) * k, -1);
  r.route(b, dest.data());
  return dest;
}

TEST(CoverRouter, VisitsTheFewestRemoteNodes) {
  // 3 nodes x 1 GPU. Expert 0 on GPU 0; expert 1 on GPUs 1 (weight 0.9) and 2; expert 2 on
  // GPU 2 only. A token on GPU 0 choosing {1, 2}: one visit to node 2 serves both, where tar
  // would mostly send expert 1 to node 1 (two visits).
  Placement p = hand_placement(3, 1, {{{{0, 1}}, {{1, 0.9}, {2, 0.1}}, {{2, 1}}}});
  Topology topo = hand_topology(3, 1);
  auto cover = make_router("cover", p, topo);
  auto dest = route_tokens(*cover, {{1, 2}, {1, 2}, {1, 2}}, {0, 0, 0});
  for (int d : dest) EXPECT_EQ(d, 2);
  auto tar = make_router("tar", p, topo);
  auto td = route_tokens(*tar, std::vector<std::vector<expert_t>>(200, {1, 2}), std::vector<int>(200, 0));
  int to_node1 = 0;
  for (size_t i = 0; i < td.size(); i += 2) to_node1 += td[i] == 1;
  EXPECT_GT(to_node1, 150);
}

TEST(CoverRouter, TwoRemoteNodesWhenOneCannotServeAll) {
  // 3 nodes x 1 GPU: expert 1 only on GPU 1, expert 2 only on GPU 2. A token on GPU 0 needs both.
  Placement p = hand_placement(3, 1, {{{{0, 1}}, {{1, 1}}, {{2, 1}}}});
  auto r = make_router("cover", p, hand_topology(3, 1));
  EXPECT_EQ(route_tokens(*r, {{1, 2}, {2, 1}}, {0, 0}), (std::vector<int>{1, 2, 2, 1}));
}

TEST(CoverRouter, OwnGpuAndOwnNodeFirst) {
  // 2 nodes x 2 GPUs; expert 0 on GPUs 0 and 2, expert 1 on GPUs 1 and 3.
  Placement p = hand_placement(2, 2, {{{{0, 1}, {2, 1}}, {{1, 1}, {3, 1}}}});
  Topology topo = hand_topology(2, 2);
  auto r = make_router("cover", p, topo);
  auto dest = route_tokens(*r, {{0, 1}, {0, 1}}, {0, 3});
  EXPECT_EQ(dest, (std::vector<int>{0, 1, 2, 3}));
}

TEST(CoverRouter, OwnGpuWinsOnlyTies) {
  // 2 nodes x 2 GPUs; expert 0 on GPUs 0 and 1 (node 0), expert 1 on GPU 2. Tokens on GPU 0:
  // a hot expert on the token's own GPU must not take every token when another instance on
  // the node is lighter (the intra-node copy is cheap, the busiest GPU paces the layer).
  Placement p = hand_placement(2, 2, {{{{0, 1}, {1, 1}}, {{2, 1}}}});
  Topology topo = hand_topology(2, 2);
  auto r = make_router("cover", p, topo);
  const int n = 100;
  auto dest = route_tokens(*r, std::vector<std::vector<expert_t>>(n, {0}), std::vector<int>(n, 0));
  EXPECT_EQ(dest[0], 0);  // a tie: the own GPU
  EXPECT_EQ(dest[1], 1);  // GPU 0 now has one more
  EXPECT_EQ(std::count(dest.begin(), dest.end(), 0), n / 2);
  EXPECT_EQ(std::count(dest.begin(), dest.end(), 1), n / 2);
  // A token that visits node 1 anyway (expert 1) may also ride along there; expert 0 has no
  // instance on node 1, so it stays on node 0, on its lighter GPU.
  auto r2 = make_router("cover", p, topo);
  auto two = route_tokens(*r2, std::vector<std::vector<expert_t>>(n, {0, 1}), std::vector<int>(n, 0));
  for (int i = 0; i < n; ++i) EXPECT_EQ(two[size_t(2 * i + 1)], 2);
  int on0 = 0;
  for (int i = 0; i < n; ++i) on0 += two[size_t(2 * i)] == 0;
  EXPECT_EQ(on0, n / 2);
}

TEST(CoverRouter, PairsWithNoChoiceCountBeforeAnyChoice) {
  // 2 nodes x 2 GPUs; expert 0 on GPUs 0 and 1, expert 1 on GPU 0 only, expert 2 on GPU 2 only.
  // Tokens on GPU 0, all visiting node 1 for expert 2: the first picks expert 0, the n after it
  // expert 1, which can only go to GPU 0. Counted first, those pairs make GPU 1 the lighter
  // choice for the first token's expert 0 (in token order it would tie, and go to its own GPU).
  Placement p = hand_placement(2, 2, {{{{0, 1}, {1, 1}}, {{0, 1}}, {{2, 1}}}});
  Topology topo = hand_topology(2, 2);
  const int n = 10;
  std::vector<std::vector<expert_t>> ids{{0, 2}};
  for (int i = 0; i < n; ++i) ids.push_back({1, 2});
  auto dest = route_tokens(*make_router("cover", p, topo), ids, std::vector<int>(size_t(n) + 1, 0));
  std::vector<int> want{1, 2};
  for (int i = 0; i < n; ++i) want.insert(want.end(), {0, 2});
  EXPECT_EQ(dest, want);
}

TEST(CoverRouter, RidesAlongToEvenTheLoad) {
  // 2 nodes x 2 GPUs. Expert 0 on GPUs 1 and 2, expert 1 on GPU 2 only, expert 3 on GPU 1.
  // n/2 tokens on GPU 1 choose {0, 3}: both on their own GPU (n pairs on GPU 1). n tokens on
  // GPU 0 choose {1, 0}: they visit node 1 for expert 1 anyway, so their expert 0 may ride along
  // to GPU 2 while GPU 2 is the lighter one; tar keeps it on the own node (GPU 1) every time.
  Placement p = hand_placement(2, 2, {{{{1, 1}, {2, 1}}, {{2, 1}}, {{3, 1}}, {{1, 1}}}});
  Topology topo = hand_topology(2, 2);
  const int n = 100;
  std::vector<std::vector<expert_t>> ids;
  std::vector<int> src;
  for (int i = 0; i < n / 2; ++i) ids.push_back({0, 3}), src.push_back(1);
  for (int i = 0; i < n; ++i) ids.push_back({1, 0}), src.push_back(0);
  auto cover = route_tokens(*make_router("cover", p, topo), ids, src);
  auto tar = route_tokens(*make_router("tar", p, topo), ids, src);
  std::vector<int> lc(4, 0), lt(4, 0);
  for (int d : cover) ++lc[size_t(d)];
  for (int d : tar) ++lt[size_t(d)];
  int ride = 0;
  for (int i = n / 2; i < n / 2 + n; ++i) {
    EXPECT_EQ(cover[size_t(2 * i)], 2);    // expert 1: its only instance
    EXPECT_EQ(tar[size_t(2 * i + 1)], 1);  // tar: expert 0 on the own node
    ride += cover[size_t(2 * i + 1)] == 2;
  }
  EXPECT_GT(ride, 0);
  EXPECT_LT(ride, n);
  EXPECT_EQ(lt[1], 2 * n);  // tar: n + n on GPU 1, n on GPU 2
  EXPECT_LT(std::max(lc[1], lc[2]), std::max(lt[1], lt[2]));
  EXPECT_LE(std::abs(lc[1] - lc[2]), 2);
}

}  // namespace
}  // namespace grace
