// Synthetic profiles for the planner tests, built by hand (no trace module), with the token
// sample the hypergraph planners read: tokens pick their
// top-k experts mostly inside one planted cluster (expert e is in cluster e % clusters, so the
// contiguous layout splits every cluster), with a Zipf-like skew over experts.
#ifndef GRACE_TESTS_PLAN_FIXTURES_H_
#define GRACE_TESTS_PLAN_FIXTURES_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "grace/model.h"
#include "grace/profile.h"

namespace grace::testing {

struct ProfileSpec {
  int layers = 2;
  int experts = 16;
  int top_k = 2;
  int64_t tokens = 4000;
  int clusters = 4;         // 0: no clusters (uniform choice)
  double in_cluster = 0.9;  // probability that a pick stays in the token's cluster
  double skew = 0.0;        // Zipf exponent over experts (0: flat)
  uint64_t seed = 1;
};

inline Profile make_profile(const ProfileSpec& s) {
  Profile p;
  p.num_layers = s.layers;
  p.num_experts = s.experts;
  p.top_k = s.top_k;
  p.tokens = s.tokens;
  std::mt19937_64 rng(s.seed);
  std::uniform_real_distribution<double> unif(0, 1);
  // The token sample (Profile::sample): every token's rows, up to the sample's capacity.
  const int64_t kept = std::min<int64_t>(s.tokens, p.sample.capacity);
  p.sample.ids.assign(size_t(kept) * s.layers * s.top_k, 0);
  for (int64_t t = 0; t < kept; ++t) p.sample.token.push_back(t), p.sample.hash.push_back(uint64_t(t));
  for (int l = 0; l < s.layers; ++l) {
    LayerProfile lp;
    lp.num_experts = s.experts;
    lp.load.assign(s.experts, 0);
    lp.affinity.assign(size_t(s.experts) * s.experts, 0);
    // Popularity: expert (e + l) mod E has rank e, weight 1 / (rank + 1)^skew.
    std::vector<double> pop(s.experts);
    for (int e = 0; e < s.experts; ++e) pop[(e + l) % s.experts] = 1.0 / std::pow(e + 1.0, s.skew);
    int C = std::max(1, s.clusters);
    std::vector<std::vector<int>> members(C);
    for (int e = 0; e < s.experts; ++e) members[e % C].push_back(e);
    std::vector<double> cluster_pop(C, 0.0);
    for (int e = 0; e < s.experts; ++e) cluster_pop[e % C] += pop[e];
    std::discrete_distribution<int> pick_cluster(cluster_pop.begin(), cluster_pop.end());
    std::discrete_distribution<int> pick_any(pop.begin(), pop.end());
    std::vector<std::discrete_distribution<int>> pick_in;
    for (int c = 0; c < C; ++c) {
      std::vector<double> w;
      for (int e : members[c]) w.push_back(pop[e]);
      pick_in.emplace_back(w.begin(), w.end());
    }
    for (int64_t t = 0; t < s.tokens; ++t) {
      int c = pick_cluster(rng);
      std::vector<int> chosen;
      while (int(chosen.size()) < s.top_k) {
        int e = (s.clusters > 0 && unif(rng) < s.in_cluster) ? members[c][pick_in[c](rng)] : pick_any(rng);
        if (std::find(chosen.begin(), chosen.end(), e) == chosen.end()) chosen.push_back(e);
      }
      if (t < kept)
        for (int j = 0; j < s.top_k; ++j)
          p.sample.ids[(size_t(t) * s.layers + l) * s.top_k + j] = expert_t(chosen[size_t(j)]);
      for (size_t i = 0; i < chosen.size(); ++i) {
        ++lp.load[chosen[i]];
        for (size_t j = i + 1; j < chosen.size(); ++j) {
          ++lp.affinity[size_t(chosen[i]) * s.experts + chosen[j]];
          ++lp.affinity[size_t(chosen[j]) * s.experts + chosen[i]];
        }
      }
    }
    p.layers.push_back(std::move(lp));
  }
  return p;
}

inline ModelSpec model_for(const Profile& p) {
  ModelSpec m = generic_model(p.num_layers, p.num_experts, p.top_k);
  m.name = "test-model";
  return m;
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_PLAN_FIXTURES_H_
