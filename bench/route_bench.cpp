// Router throughput: decisions per second on one core for every router, on a DeepSeek-V3-like
// layer (256 experts, top-8, 8 nodes x 8 GPUs, 4 primaries per GPU plus 64 replicas of the 32
// hottest experts) and a batch of 8192 tokens with skewed (Zipf-like) expert choices.
//
//   build/bench/route_bench --benchmark_filter=Route   (items_per_second = decisions/s)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "grace/placement.h"
#include "grace/router.h"
#include "grace/topology.h"

namespace {

constexpr int kExperts = 256, kTopK = 8, kNodes = 8, kGpn = 8, kGpus = kNodes * kGpn;
constexpr int64_t kTokens = 8192;

struct Setup {
  grace::Placement placement;
  grace::Topology topo;
  std::vector<grace::expert_t> ids;
  std::vector<int> src;
  std::vector<int64_t> tok;
};

const Setup& setup() {
  static const Setup s = [] {
    Setup s;
    s.topo.nodes = kNodes;
    s.topo.gpus_per_node = kGpn;
    grace::Placement& p = s.placement;
    p.model = "deepseek-v3";
    p.nodes = kNodes;
    p.gpus_per_node = kGpn;
    p.num_layers = 1;
    p.num_experts = kExperts;
    p.slots_per_gpu = 6;
    p.layers.resize(1);
    auto& experts = p.layers[0].experts;
    experts.resize(kExperts);
    for (int e = 0; e < kExperts; ++e) experts[e].instances.push_back({e / 4, 1.0});
    // Experts 0..31 are the hottest (Zipf ranks below): each gets 2 replicas on other nodes.
    for (int r = 0; r < 64; ++r) {
      const int e = r % 32;
      const int gpu = (e / 4 + 8 * (1 + r / 32) + r % 8) % kGpus;
      experts[e].instances.push_back({gpu, 1.0});
    }
    for (auto& ep : experts)
      for (auto& in : ep.instances) in.weight = 1.0 / ep.num_instances();
    std::mt19937_64 rng(42);
    std::vector<double> w(kExperts);
    for (int e = 0; e < kExperts; ++e) w[e] = 1.0 / std::pow(e + 1.0, 0.8);
    std::discrete_distribution<int> pick(w.begin(), w.end());
    for (int64_t t = 0; t < kTokens; ++t) {
      std::vector<int> chosen;
      while (int(chosen.size()) < kTopK) {
        int e = pick(rng);
        if (std::find(chosen.begin(), chosen.end(), e) == chosen.end()) chosen.push_back(e);
      }
      for (int e : chosen) s.ids.push_back(grace::expert_t(e));
      s.src.push_back(int(t * kGpus / kTokens));
      s.tok.push_back(t);
    }
    return s;
  }();
  return s;
}

void BM_Route(benchmark::State& state, const char* name) {
  const Setup& s = setup();
  auto router = grace::make_router(name, s.placement, s.topo, 1);
  grace::RouteBatch b{0, kTokens, kTopK, s.ids.data(), kTopK, s.src.data(), s.tok.data()};
  std::vector<int> dest(size_t(kTokens) * kTopK);
  for (auto _ : state) {
    router->route(b, dest.data());
    benchmark::DoNotOptimize(dest.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kTokens * kTopK);
}

BENCHMARK_CAPTURE(BM_Route, primary, "primary");
BENCHMARK_CAPTURE(BM_Route, wrr, "wrr");
BENCHMARK_CAPTURE(BM_Route, tar, "tar");
BENCHMARK_CAPTURE(BM_Route, round_robin, "round-robin");
BENCHMARK_CAPTURE(BM_Route, local_first, "local-first");
BENCHMARK_CAPTURE(BM_Route, load_aware, "load-aware");
BENCHMARK_CAPTURE(BM_Route, cover, "cover");

}  // namespace

BENCHMARK_MAIN();
