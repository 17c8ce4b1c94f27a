// Small placements shared by the placement tests.
#ifndef GRACE_TESTS_PLACEMENT_FIXTURE_H_
#define GRACE_TESTS_PLACEMENT_FIXTURE_H_

#include <gtest/gtest.h>

#include <string>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/topology.h"

namespace grace::testing {

// 2 layers x 8 experts on 2x2 GPUs with 3 slots per GPU. Expert e's primary is GPU e / 2;
// layer 0 replicates expert 0 on GPU 3 (weights 0.75 / 0.25) and expert 5 on GPUs 0 and 1.
inline Placement small_placement() {
  Placement p;
  p.model = "toy";
  p.policy = "test";
  p.seed = 42;
  p.num_layers = 2;
  p.num_experts = 8;
  p.nodes = 2;
  p.gpus_per_node = 2;
  p.slots_per_gpu = 3;
  p.layers.resize(2);
  for (auto& l : p.layers) {
    l.experts.resize(8);
    for (int e = 0; e < 8; ++e) l.experts[e].instances = {{e / 2, 1.0}};
  }
  p.layers[0].experts[0].instances = {{0, 0.75}, {3, 0.25}};
  p.layers[0].experts[5].instances = {{2, 1.0 / 3}, {0, 1.0 / 3}, {1, 1.0 / 3}};
  return p;
}

inline ModelSpec toy_model() {
  ModelSpec m = generic_model(2, 8, 2);
  m.name = "toy";
  return m;
}

// Expects `f` to throw InputError whose message contains every one of `parts`.
template <typename F>
void expect_input_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no InputError thrown (expected: " << *parts.begin() << ")";
  } catch (const InputError& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << part;
  }
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_PLACEMENT_FIXTURE_H_
