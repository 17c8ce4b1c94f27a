// tar, local-first and wrr decide exactly as grace/routing_table.h documents the rule, and
// sglang-static / sglang-dynamic as sglang_routers.cpp documents theirs (over the exported
// physical layout), pair by pair, on a random placement with 1 to 7 copies per expert (lists
// longer than the routers' short-list fast path), several layers, strided ids, global token
// indices and three seeds. The references read only the table's documented arrays, the
// physical layout and the pick helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "grace/router.h"
#include "grace/routing_table.h"
#include "grace/serving.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

int reference(const RoutingTable& tb, const std::string& name, uint64_t seed, int layer, int64_t token, int e,
              int src) {
  const int le = tb.le(layer, e);
  const bool local = name != "wrr";
  if (local && tb.hosts(le, src)) return src;
  const int32_t* off =
      local ? tb.cand_offset().data() + tb.lne(layer, src / tb.gpus_per_node(), e) : tb.inst_offset().data() + le;
  const int32_t* gpu = local ? tb.cand_gpu().data() : tb.inst_gpu().data();
  const uint32_t* cum = local ? tb.cand_cum().data() : tb.inst_cum().data();
  const int o = off[0], c = off[1] - o;
  if (c == 1) return gpu[o];
  const uint64_t h = pick_hash(seed, uint32_t(layer), uint64_t(token), uint32_t(e));
  return gpu[o + (name == "local-first" ? pick_uniform(h, c) : pick_weighted(cum + o, c, uint32_t(h >> 33)))];
}

// SGLang's rules on the exported layout: copies of (layer, e) are its physical slots in order.
int sglang_reference(const PhysicalLayout& lay, bool is_static, uint64_t seed, int layer, int64_t token, int e,
                     int src) {
  std::vector<int> copies;
  for (int q = 0; q < lay.num_physical(); ++q)
    if (lay.row(layer)[q] == e) copies.push_back(lay.gpu_of(q));
  if (is_static && std::find(copies.begin(), copies.end(), src) != copies.end()) return src;
  if (copies.size() == 1) return copies[0];
  const uint64_t h = pick_hash(seed, uint32_t(layer), uint64_t(token), uint32_t(e));
  return copies[size_t(pick_uniform(h, int(copies.size())))];
}

TEST(RouterTableRule, EveryPairAsDocumented) {
  const int nodes = 3, gpn = 4, G = nodes * gpn, E = 40, L = 3, K = 6;
  std::mt19937 rng(7);
  std::vector<std::vector<std::vector<std::pair<int, double>>>> experts(L);
  for (auto& layer : experts)
    for (int e = 0; e < E; ++e) {
      std::vector<int> gpus(G);
      std::iota(gpus.begin(), gpus.end(), 0);
      std::shuffle(gpus.begin(), gpus.end(), rng);
      const int copies = 1 + int(rng() % 7);
      std::vector<std::pair<int, double>> inst;
      for (int c = 0; c < copies; ++c) inst.push_back({gpus[size_t(c)], 0.1 + double(rng() % 100)});
      layer.push_back(inst);
    }
  Placement p = testing::hand_placement(nodes, gpn, experts);
  int most = 0;  // slots: the fullest GPU's count + 1, so the layout also fills spare slots
  for (int l = 0; l < L; ++l) {
    std::vector<int> per_gpu(G, 0);
    for (const auto& ex : p.layers[size_t(l)].experts)
      for (const auto& in : ex.instances) most = std::max(most, ++per_gpu[size_t(in.gpu)]);
  }
  p.slots_per_gpu = most + 1;
  const PhysicalLayout lay = physical_layout(p, /*require_full=*/false);
  const Topology topo = testing::hand_topology(nodes, gpn);
  const RoutingTable tb(p, topo);
  const int64_t n = 3000;
  std::vector<expert_t> ids(size_t(n) * L * K);  // [token][layer][k], distinct experts per row
  for (int64_t r = 0; r < n * L; ++r) {
    std::vector<expert_t> all(E);
    std::iota(all.begin(), all.end(), expert_t(0));
    std::shuffle(all.begin(), all.end(), rng);
    std::copy(all.begin(), all.begin() + K, ids.begin() + r * K);
  }
  std::vector<int> src(static_cast<size_t>(n));
  std::vector<int64_t> tok(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    src[size_t(t)] = int(rng() % G);
    tok[size_t(t)] = 1000 + 3 * t;
  }
  int64_t draws = 0;
  for (const std::string name : {"tar", "local-first", "wrr", "sglang-static", "sglang-dynamic"})
    for (uint64_t seed : {0ull, 1ull, 99ull}) {
      auto router = make_router(name, p, topo, seed);
      for (int layer = 0; layer < L; ++layer) {
        RouteBatch b{layer, n, K, ids.data() + layer * K, int64_t(L) * K, src.data(), tok.data()};
        std::vector<int> dest(size_t(n) * K, -7);
        router->route(b, dest.data());
        for (int64_t t = 0; t < n; ++t)
          for (int j = 0; j < K; ++j) {
            const int e = ids[size_t(t * L * K + layer * K + j)];
            const int want =
                name.rfind("sglang-", 0) == 0
                    ? sglang_reference(lay, name == "sglang-static", seed, layer, tok[size_t(t)], e, src[size_t(t)])
                    : reference(tb, name, seed, layer, tok[size_t(t)], e, src[size_t(t)]);
            ASSERT_EQ(dest[size_t(t * K + j)], want)
                << name << " seed " << seed << " layer " << layer << " token " << t << " expert " << e;
            draws += tb.num_instances(tb.le(layer, e)) > 4;
          }
      }
    }
  EXPECT_GT(draws, 1000);  // the long-list path was exercised
}

}  // namespace
}  // namespace grace
