// Test helper shared by the profile tests: a random trace with distinct top-k ids per token.
#ifndef GRACE_TESTS_PROFILE_RANDOM_TRACE_H_
#define GRACE_TESTS_PROFILE_RANDOM_TRACE_H_

#include <cstdint>
#include <random>

#include "grace/trace.h"

namespace grace::testing {

// A random trace with distinct top-k ids per token (skewed towards low ids).
inline Trace random_trace(int layers, int experts, int k, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  std::geometric_distribution<int> skewed(0.08);
  Trace t;
  t.num_layers = layers;
  t.top_k = k;
  t.num_experts = experts;
  t.ids.reserve(size_t(tokens) * layers * k);
  for (int64_t i = 0; i < tokens * layers; ++i) {
    expert_t chosen[64];
    for (int a = 0; a < k;) {
      expert_t e = expert_t(skewed(rng) % experts);
      bool dup = false;
      for (int b = 0; b < a; ++b) dup |= chosen[b] == e;
      if (!dup) chosen[a++] = e;
    }
    t.ids.insert(t.ids.end(), chosen, chosen + k);
  }
  t.seq_offsets = {0, tokens};
  return t;
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_PROFILE_RANDOM_TRACE_H_
