// The cover router against a plain reference of its rule (cover_router.cpp's header comment),
// written from the placement alone: same GPU for every (token, expert) on random placements
// and batches. Covers the one-word path (up to 64 nodes) and the general one (70 nodes).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "grace/router.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

// The rule, step by step. inst[e]: the GPUs of expert e's instances, primary first.
std::vector<int> reference_cover(const std::vector<std::vector<int>>& inst, int N, int gpn,
                                 const std::vector<expert_t>& ids, int k, const std::vector<int>& src) {
  const int64_t n = int64_t(src.size());
  std::vector<int> dest(ids.size(), -1);
  std::vector<int64_t> load(size_t(N) * gpn, 0), node_load(size_t(N), 0);
  auto assign = [&](size_t slot, int g) {
    dest[slot] = g;
    ++load[size_t(g)];
    ++node_load[size_t(g / gpn)];
  };
  auto on_node = [&](int e, int m) {
    int c = 0;
    for (int g : inst[size_t(e)]) c += g / gpn == m;
    return c;
  };
  // Pass 1: an expert's only instance; the only own-node instance when the node hosts all of the
  // token's experts.
  for (int64_t t = 0; t < n; ++t) {
    const int node = src[size_t(t)] / gpn;
    bool local = true;
    for (int j = 0; j < k; ++j) local = local && on_node(ids[size_t(t * k + j)], node) > 0;
    for (int j = 0; j < k; ++j) {
      const int e = ids[size_t(t * k + j)];
      const auto& in = inst[size_t(e)];
      if (in.size() == 1) {
        assign(size_t(t * k + j), in[0]);
      } else if (local && on_node(e, node) == 1) {
        for (int g : in)
          if (g / gpn == node) assign(size_t(t * k + j), g);
      }
    }
  }
  // Pass 2: cover the missing experts greedily, then the least loaded visited instance, ties
  // to the token's own GPU, then to the earlier instance.
  for (int64_t t = 0; t < n; ++t) {
    const int s = src[size_t(t)], node = s / gpn;
    std::vector<int> missing, open;
    std::vector<bool> visit(size_t(N), false);
    visit[size_t(node)] = true;
    for (int j = 0; j < k; ++j)  // the nodes of forced pairs
      if (dest[size_t(t * k + j)] >= 0) visit[size_t(dest[size_t(t * k + j)] / gpn)] = true;
    for (int j = 0; j < k; ++j) {
      if (dest[size_t(t * k + j)] >= 0) continue;
      bool served = false;
      for (int m = 0; m < N; ++m) served = served || (visit[size_t(m)] && on_node(ids[size_t(t * k + j)], m) > 0);
      (served ? open : missing).push_back(j);
    }
    while (!missing.empty()) {
      int best = -1, best_count = 0;
      for (int m = 0; m < N; ++m) {
        int count = 0;
        for (int j : missing) count += on_node(ids[size_t(t * k + j)], m) > 0;
        if (count == 0) continue;
        if (best < 0 || count > best_count || (count == best_count && node_load[size_t(m)] < node_load[size_t(best)]))
          best = m, best_count = count;
      }
      if (best < 0) {
        ADD_FAILURE() << "an expert without an instance";
        return dest;
      }
      visit[size_t(best)] = true;
      std::vector<int> rest;
      for (int j : missing) (on_node(ids[size_t(t * k + j)], best) > 0 ? open : rest).push_back(j);
      missing = rest;
    }
    for (int j : open) {
      int g = -1;
      for (int x : inst[size_t(ids[size_t(t * k + j)])])
        if (visit[size_t(x / gpn)] &&
            (g < 0 || load[size_t(x)] < load[size_t(g)] || (load[size_t(x)] == load[size_t(g)] && x == s)))
          g = x;
      assign(size_t(t * k + j), g);
    }
  }
  return dest;
}

void check_random(int N, int gpn, int E, int k, int copies_max, uint32_t seed) {
  std::mt19937 rng(seed);
  const int G = N * gpn;
  std::vector<std::vector<int>> inst(static_cast<size_t>(E));
  std::vector<std::vector<std::pair<int, double>>> layer(static_cast<size_t>(E));
  for (int e = 0; e < E; ++e) {
    const int c = 1 + int(rng() % uint32_t(copies_max));
    while (int(inst[size_t(e)].size()) < c) {
      const int g = int(rng() % uint32_t(G));
      if (std::find(inst[size_t(e)].begin(), inst[size_t(e)].end(), g) == inst[size_t(e)].end())
        inst[size_t(e)].push_back(g), layer[size_t(e)].push_back({g, 1.0});
    }
  }
  const Placement p = testing::hand_placement(N, gpn, {layer});
  auto router = make_router("cover", p, testing::hand_topology(N, gpn));
  const int64_t n = 500;
  std::vector<expert_t> ids;
  std::vector<int> src(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    src[size_t(t)] = int(rng() % uint32_t(G));
    std::vector<int> row;
    while (int(row.size()) < k) {
      const int e = int(rng() % uint32_t(E));
      if (std::find(row.begin(), row.end(), e) == row.end()) row.push_back(e);
    }
    for (int e : row) ids.push_back(expert_t(e));
  }
  std::vector<int64_t> tok(static_cast<size_t>(n));
  std::iota(tok.begin(), tok.end(), 0);
  RouteBatch b{0, n, k, ids.data(), k, src.data(), tok.data()};
  std::vector<int> dest(ids.size(), -1);
  router->route(b, dest.data());
  EXPECT_EQ(dest, reference_cover(inst, N, gpn, ids, k, src)) << N << "x" << gpn << " seed " << seed;
}

TEST(CoverReference, SameGpusAsThePlainRule) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    check_random(2, 4, 16, 4, 3, seed);
    check_random(4, 2, 24, 6, 3, seed);
    check_random(8, 2, 64, 8, 2, seed);
    check_random(8, 1, 32, 8, 4, seed);    // few experts per node: long covers, many ties
    check_random(64, 1, 96, 8, 3, seed);   // 64 nodes: all bits of the word
    check_random(70, 1, 100, 8, 3, seed);  // beyond one word: the general path
  }
}

}  // namespace
}  // namespace grace
