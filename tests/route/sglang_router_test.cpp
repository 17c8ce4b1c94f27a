// sglang-static / sglang-dynamic against an independent computation of SGLang's rules, made
// from the exported --init-expert-location JSON (not from grace's routing code):
//   static: a rank with a copy of the expert uses it; otherwise it is assigned one copy out of
//           all copies "fairly" (each copy equally often over the ranks that lack one), so a
//           token on such a rank crosses nodes with probability (copies off its node) / copies;
//   dynamic: uniform over all copies for every token.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "grace/model.h"
#include "grace/router.h"
#include "grace/serving.h"
#include "grace/synth.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

// 4 layers x 32 experts on 2x4 GPUs, 6 slots per GPU: primaries e / 4, and per layer 12
// replicas on random GPUs of either node (so many experts have copies on both nodes).
Placement replicated_placement() {
  std::mt19937 rng(7);
  std::vector<std::vector<std::vector<std::pair<int, double>>>> ex(
      4, std::vector<std::vector<std::pair<int, double>>>(32));
  for (int l = 0; l < 4; ++l) {
    std::vector<int> used(8, 4);
    for (int e = 0; e < 32; ++e) ex[l][e] = {{e / 4, 1.0}};
    for (int r = 0; r < 12; ++r) {
      const int e = int(rng() % 32);
      const int g = int(rng() % 8);
      bool dup = false;
      for (auto& [x, w] : ex[l][e]) dup |= x == g;
      if (dup || used[g] >= 6) continue;
      ex[l][e].push_back({g, 1.0});
      ++used[g];
    }
  }
  Placement p = testing::hand_placement(2, 4, ex);
  p.slots_per_gpu = 6;
  return p;
}

struct Counts {
  double cross = 0;
  std::vector<double> load = std::vector<double>(8, 0.0);
};

// Expected cross-node pairs and GPU loads under SGLang's rule, from the JSON file's map.
Counts expected(const std::string& sglang_json, const Trace& tr, bool is_static) {
  const auto map = nlohmann::json::parse(sglang_json)["physical_to_logical_map"];
  const int P = int(map[0].size()), S = P / 8;
  Counts c;
  for (int64_t t = 0; t < tr.num_tokens(); ++t) {
    const int src = int(t % 8);
    for (int l = 0; l < tr.num_layers; ++l)
      for (int j = 0; j < tr.top_k; ++j) {
        const int e = tr.topk(t, l)[j];
        std::vector<int> gpus;
        for (int q = 0; q < P; ++q)
          if (map[l][q].get<int>() == e) gpus.push_back(q / S);
        bool own = false;
        for (int g : gpus) own |= g == src;
        if (is_static && own) {
          c.load[size_t(src)] += 1;
          continue;
        }
        for (int g : gpus) {
          c.load[size_t(g)] += 1.0 / double(gpus.size());
          if (g / 4 != src / 4) c.cross += 1.0 / double(gpus.size());
        }
      }
  }
  return c;
}

Counts routed(const Placement& p, const Trace& tr, const char* name) {
  auto router = make_router(name, p, testing::hand_topology(2, 4), 3);
  Counts c;
  std::vector<int> src(size_t(tr.num_tokens()));
  for (size_t t = 0; t < src.size(); ++t) src[t] = int(t % 8);
  std::vector<int> dest(size_t(tr.num_tokens()) * tr.top_k);
  for (int l = 0; l < tr.num_layers; ++l) {
    RouteBatch b;
    b.layer = l;
    b.num_tokens = tr.num_tokens();
    b.top_k = tr.top_k;
    b.ids = tr.topk(0, l);
    b.ids_stride = int64_t(tr.num_layers) * tr.top_k;
    b.src_gpu = src.data();
    router->route(b, dest.data());
    for (size_t i = 0; i < dest.size(); ++i) {
      c.load[size_t(dest[i])] += 1;
      c.cross += dest[i] / 4 != src[i / size_t(tr.top_k)] / 4;
    }
  }
  return c;
}

TEST(SglangRouters, AgreeWithSglangRuleComputedFromTheExportedFile) {
  const Placement p = replicated_placement();
  const Trace tr = uniform_trace(4, 32, 4, 30000, 11);
  const std::string json = export_sglang(p, generic_model(4, 32, 4)).json;
  for (bool is_static : {true, false}) {
    const Counts want = expected(json, tr, is_static);
    const Counts got = routed(p, tr, is_static ? "sglang-static" : "sglang-dynamic");
    SCOPED_TRACE(is_static ? "static" : "dynamic");
    EXPECT_GT(want.cross, 1000);
    EXPECT_NEAR(got.cross / want.cross, 1.0, 0.01) << got.cross << " vs " << want.cross;
    for (int g = 0; g < 8; ++g) EXPECT_NEAR(got.load[g] / want.load[g], 1.0, 0.02) << "GPU " << g;
  }
}

TEST(SglangRouters, StaticUsesTheOwnGpuCopyAndIgnoresWeightsAndNodes) {
  // Expert 0: copies on GPU 0 (weight 0.9) and GPU 4 (0.1); 2x4, 2 slots per GPU, 8 experts.
  std::vector<std::vector<std::vector<std::pair<int, double>>>> ex(1,
                                                                   std::vector<std::vector<std::pair<int, double>>>(8));
  for (int e = 0; e < 8; ++e) ex[0][e] = {{e, 1.0}};
  ex[0][0] = {{0, 0.9}, {4, 0.1}};
  Placement p = testing::hand_placement(2, 4, ex);
  p.slots_per_gpu = 2;
  auto stat = make_router("sglang-static", p, testing::hand_topology(2, 4), 0);
  auto tar = make_router("tar", p, testing::hand_topology(2, 4), 0);
  const int n = 20000;
  std::vector<expert_t> ids(n, 0);
  std::vector<int> src(n, 1), d1(n), d2(n);  // tokens on GPU 1 (node 0), which has no copy of 0
  RouteBatch b{0, n, 1, ids.data(), 1, src.data(), nullptr};
  stat->route(b, d1.data());
  tar->route(b, d2.data());
  int on4 = 0, tar_on4 = 0;
  for (int i = 0; i < n; ++i) on4 += d1[i] == 4, tar_on4 += d2[i] == 4;
  // SGLang: fair over both copies (half cross the node); tar: its own node's copy.
  EXPECT_NEAR(on4 / double(n), 0.5, 0.02);
  EXPECT_EQ(tar_on4, 0);
  src.assign(n, 4);
  stat->route(b, d1.data());
  for (int i = 0; i < n; ++i) ASSERT_EQ(d1[i], 4);
}

}  // namespace
}  // namespace grace
