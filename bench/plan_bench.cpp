// Planning time per policy at two scales, on a synthetic profile built here (no trace module):
//   deepseek-v3:      58 MoE layers x 256 experts, top-8, on 8 x 8 GPUs, 64 redundant slots;
//   deepseek-v2-lite: 26 MoE layers x 64 experts, top-6, on 2 x 4 GPUs (the paper's testbed),
//                     one redundant slot per GPU (the default).
// The profile is structured like real routing: experts form co-activated clusters (a token
// draws most of its experts from one cluster) and popularity is Zipf-skewed, reshuffled per
// layer. Each iteration plans every layer. Counters report the plan's affinity kept and
// predicted balance (summarize_plan: weight-proportional routing; tar_max_mean: the tar router as
// plan/tar_model.h predicts it), so the timing comes with what it bought.
//
// Run (one core): taskset -c 0 build-plan2/bench/plan_bench --benchmark_min_time=1x
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "grace/model.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/topology.h"
#include "plan/tar_model.h"

namespace {

grace::Profile structured_profile(int layers, int experts, int top_k, int64_t tokens, int clusters, uint64_t seed) {
  grace::Profile p;
  p.num_layers = layers, p.num_experts = experts, p.top_k = top_k, p.tokens = tokens;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unif(0, 1);
  for (int l = 0; l < layers; ++l) {
    grace::LayerProfile lp;
    lp.num_experts = experts;
    lp.load.assign(experts, 0);
    lp.affinity.assign(size_t(experts) * experts, 0);
    std::vector<int> perm(experts);
    for (int e = 0; e < experts; ++e) perm[e] = e;
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<double> pop(experts);
    for (int r = 0; r < experts; ++r) pop[perm[r]] = 1.0 / std::pow(r + 1.0, 0.6);  // Zipf 0.6
    std::vector<std::vector<int>> members(clusters);
    std::shuffle(perm.begin(), perm.end(), rng);
    for (int i = 0; i < experts; ++i) members[i % clusters].push_back(perm[i]);
    std::vector<double> cpop(clusters, 0);
    std::vector<std::discrete_distribution<int>> in;
    for (int c = 0; c < clusters; ++c) {
      std::vector<double> w;
      for (int e : members[c]) w.push_back(pop[e]), cpop[c] += pop[e];
      in.emplace_back(w.begin(), w.end());
    }
    std::discrete_distribution<int> pick_c(cpop.begin(), cpop.end()), any(pop.begin(), pop.end());
    std::vector<int> chosen;
    for (int64_t t = 0; t < tokens; ++t) {
      int c = pick_c(rng);
      chosen.clear();
      while (int(chosen.size()) < top_k) {
        int e = unif(rng) < 0.7 ? members[c][in[c](rng)] : any(rng);
        if (std::find(chosen.begin(), chosen.end(), e) == chosen.end()) chosen.push_back(e);
      }
      for (size_t i = 0; i < chosen.size(); ++i) {
        ++lp.load[chosen[i]];
        for (size_t j = i + 1; j < chosen.size(); ++j) {
          ++lp.affinity[size_t(chosen[i]) * experts + chosen[j]];
          ++lp.affinity[size_t(chosen[j]) * experts + chosen[i]];
        }
      }
    }
    p.layers.push_back(std::move(lp));
  }
  return p;
}

struct Scale {
  grace::Profile profile;
  grace::ModelSpec model;
  grace::Topology topo;
  grace::PlanOptions options;
};

const Scale& scale(const std::string& name) {
  static std::map<std::string, Scale> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  Scale s;
  if (name == "deepseek-v3") {
    s.profile = structured_profile(58, 256, 8, 16384, 32, 1);
    s.topo = grace::parse_topology("8x8@h200");
    s.options.redundant_slots = 64;
  } else {
    s.profile = structured_profile(26, 64, 6, 16384, 8, 2);
    s.topo = grace::parse_topology("2x4");
  }
  s.model = grace::generic_model(s.profile.num_layers, s.profile.num_experts, s.profile.top_k);
  s.model.name = name;
  return cache.emplace(name, std::move(s)).first->second;
}

void BM_Plan(benchmark::State& state, std::string scale_name, std::string policy) {
  const Scale& s = scale(scale_name);
  auto planner = grace::make_planner(policy);
  grace::PlanContext ctx{s.profile, s.model, s.topo, s.options};
  grace::Placement p;
  for (auto _ : state) {
    p = planner->plan(ctx);
    benchmark::DoNotOptimize(p);
  }
  auto sum = grace::summarize_plan(p, s.profile);
  state.counters["aff_in_gpu"] = sum.affinity_in_gpu;
  state.counters["aff_in_node"] = sum.affinity_in_node;
  state.counters["max_mean"] = sum.predicted_max_mean;
  // Under the tar router (own GPU, own node, then anywhere), as plan/tar_model.h predicts it.
  double tar_mm = 0;
  for (int l = 0; l < p.num_layers; ++l) {
    const auto& lp = s.profile.layers[l];
    std::vector<double> load(lp.load.begin(), lp.load.end());
    auto g = grace::plan::tar_gpu_load(p.layers[l], load, p.nodes, p.gpus_per_node);
    double mean = 0;
    for (double v : g) mean += v / double(g.size());
    tar_mm += mean > 0 ? *std::max_element(g.begin(), g.end()) / mean : 1.0;
  }
  state.counters["tar_max_mean"] = tar_mm / std::max(1, p.num_layers);
  int reps = 0;
  for (int r : sum.replicas_per_layer) reps += r;
  state.counters["replicas"] = double(reps) / std::max<size_t>(1, sum.replicas_per_layer.size());
}

int register_all() {
  for (const char* sc : {"deepseek-v2-lite", "deepseek-v3"})
    for (const auto& pol : grace::planner_names())
      benchmark::RegisterBenchmark((std::string("plan/") + sc + "/" + pol).c_str(), BM_Plan, sc, pol)
          ->Unit(benchmark::kMillisecond);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
