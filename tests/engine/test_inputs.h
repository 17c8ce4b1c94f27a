// Shared test inputs for the engine tests: small random traces with controllable structure and
// hand-built placements (contiguous, EPLB-like with replicas, random uneven with replicas).
#ifndef GRACE_TESTS_ENGINE_TEST_INPUTS_H_
#define GRACE_TESTS_ENGINE_TEST_INPUTS_H_

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "grace/model.h"
#include "grace/placement.h"
#include "grace/trace.h"

namespace grace::engine::testing {

// `tokens` tokens in sequences of `seq_len` (the last one shorter); each token picks top_k
// distinct experts per layer with a mild skew; gate weights random. If restrict_first > 0,
// the first `restrict_first` tokens only choose among experts [0, 2 * top_k).
inline Trace make_trace(int layers, int experts, int top_k, int64_t tokens, int64_t seq_len, uint64_t seed,
                        int64_t restrict_first = 0) {
  Trace tr;
  tr.num_layers = layers;
  tr.top_k = top_k;
  tr.num_experts = experts;
  std::mt19937_64 rng(seed);
  std::vector<double> pop(static_cast<size_t>(experts));
  for (int e = 0; e < experts; ++e) pop[size_t(e)] = 1.0 / (1.0 + 0.3 * e);  // skewed popularity
  for (int64_t t = 0; t < tokens; ++t)
    for (int l = 0; l < layers; ++l) {
      const int range = t < restrict_first ? std::min(experts, 2 * top_k) : experts;
      std::discrete_distribution<int> pick(pop.begin(), pop.begin() + range);
      std::vector<int> chosen;
      while (int(chosen.size()) < top_k) {
        const int e = pick(rng);
        if (std::find(chosen.begin(), chosen.end(), e) == chosen.end()) chosen.push_back(e);
      }
      for (int e : chosen) {
        tr.ids.push_back(expert_t(e));
        tr.weights.push_back(float(0.05 + std::uniform_real_distribution<double>(0, 0.3)(rng)));
      }
    }
  for (int64_t s = 0; s < tokens; s += seq_len) tr.seq_offsets.push_back(s);
  tr.seq_offsets.push_back(tokens);
  return tr;
}

inline ModelSpec make_model(int layers, int experts, int top_k, int64_t hidden, int64_t inter) {
  ModelSpec m = generic_model(layers, experts, top_k, hidden, inter);
  m.name = "engine-test";
  return m;
}

inline Placement empty_placement(const ModelSpec& m, int nodes, int gpn, const char* policy) {
  Placement p;
  p.model = m.name;
  p.policy = policy;
  p.num_layers = m.moe_layers;
  p.num_experts = m.experts;
  p.nodes = nodes;
  p.gpus_per_node = gpn;
  p.slots_per_gpu = m.experts;  // generous: tests check routing, not capacity
  p.layers.resize(size_t(m.moe_layers));
  for (auto& l : p.layers) l.experts.resize(size_t(m.experts));
  return p;
}

// Expert e on GPU floor(e * gpus / experts): uneven counts when gpus does not divide experts.
inline Placement contiguous_placement(const ModelSpec& m, int nodes, int gpn) {
  Placement p = empty_placement(m, nodes, gpn, "contiguous");
  const int G = nodes * gpn;
  for (auto& l : p.layers)
    for (int e = 0; e < m.experts; ++e) l.experts[size_t(e)].instances = {{int(int64_t(e) * G / m.experts), 1.0}};
  return p;
}

// Contiguous primaries plus replicas of the two most popular experts (0 and 1) on the GPUs
// farthest from their primary, with unequal weights.
inline Placement eplb_like_placement(const ModelSpec& m, int nodes, int gpn) {
  Placement p = contiguous_placement(m, nodes, gpn);
  p.policy = "eplb-like";
  const int G = nodes * gpn;
  if (G == 1) return p;
  for (auto& l : p.layers)
    for (int e = 0; e < std::min(2, m.experts); ++e) {
      auto& inst = l.experts[size_t(e)].instances;
      const int g = (inst[0].gpu + G / 2 + e) % G;
      if (g == inst[0].gpu) continue;
      inst[0].weight = 0.6;
      inst.push_back({g, 0.4});
      if (G > 2) {
        const int g2 = (g + 1) % G;
        if (g2 != inst[0].gpu) {
          inst[0].weight = 0.4;
          inst[1].weight = 0.35;
          inst.push_back({g2, 0.25});
        }
      }
    }
  return p;
}

// Random primaries (some GPUs get many experts, some none) and a replica for every third expert.
inline Placement random_placement(const ModelSpec& m, int nodes, int gpn, uint64_t seed) {
  Placement p = empty_placement(m, nodes, gpn, "random");
  const int G = nodes * gpn;
  std::mt19937_64 rng(seed);
  for (auto& l : p.layers)
    for (int e = 0; e < m.experts; ++e) {
      const int g = int(rng() % uint64_t(std::max(1, G - G / 4)));  // last quarter: no primaries
      auto& inst = l.experts[size_t(e)].instances;
      inst = {{g, 1.0}};
      if (e % 3 == 0 && G > 1) {
        const int r = (g + 1 + int(rng() % uint64_t(G - 1))) % G;
        inst = {{g, 0.5}, {r, 0.5}};
      }
    }
  return p;
}

}  // namespace grace::engine::testing

#endif  // GRACE_TESTS_ENGINE_TEST_INPUTS_H_
