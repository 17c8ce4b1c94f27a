#include "grace/engine/gate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace grace::engine {
namespace {

double softmax_p(const std::vector<float>& z, int e) {
  double s = 0;
  for (float v : z) s += std::exp(double(v));
  return std::exp(double(z[size_t(e)])) / s;
}

TEST(Gate, PlainTopKWithSoftmaxWeights) {
  const std::vector<float> z = {0.1f, 2.0f, -1.0f, 2.0f, 0.5f, 1.5f};
  GateSpec g{6, 3, 1, 1, false};
  int32_t ids[3];
  float w[3];
  gate_topk(z.data(), 1, g, ids, w);
  EXPECT_EQ(ids[0], 1);  // tie 2.0 / 2.0: the lower index first
  EXPECT_EQ(ids[1], 3);
  EXPECT_EQ(ids[2], 5);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(w[j], softmax_p(z, ids[j]), 1e-6);
}

TEST(Gate, NormalisedWeightsSumToOne) {
  const std::vector<float> z = {0.1f, 2.0f, -1.0f, 2.0f, 0.5f, 1.5f};
  GateSpec g{6, 2, 1, 1, true};
  int32_t ids[2];
  float w[2];
  gate_topk(z.data(), 1, g, ids, w);
  EXPECT_NEAR(w[0] + w[1], 1.0, 1e-6);
  EXPECT_NEAR(w[0], 0.5, 1e-6);  // equal logits
}

TEST(Gate, GroupLimitedTopKOnlyUsesTheBestGroups) {
  // 4 groups of 2: group scores (best logit) 1.0, 3.0, 0.9, 2.9. With topk_group 2 only groups 1
  // and 3 compete, although expert 0 (1.0) beats expert 7 (0.0).
  const std::vector<float> z = {1.0f, -5.0f, 3.0f, 2.5f, 0.9f, 0.8f, 2.9f, 0.0f};
  GateSpec g{8, 4, 4, 2, false};
  int32_t ids[4];
  float w[4];
  gate_topk(z.data(), 1, g, ids, w);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 6);
  EXPECT_EQ(ids[2], 3);
  EXPECT_EQ(ids[3], 7);
  EXPECT_NEAR(w[3], softmax_p(z, 7), 1e-6);  // weights are over all experts
  // Without groups expert 0 wins the last place.
  GateSpec flat{8, 4, 1, 1, false};
  gate_topk(z.data(), 1, flat, ids, w);
  EXPECT_EQ(ids[3], 0);
}

TEST(Gate, LogitsAreTheGemm) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};   // 2 tokens, hidden 3
  const std::vector<float> wg = {1, 0, 0, 0, 1, 1};  // 2 experts
  std::vector<float> z(4);
  gate_logits(x.data(), 2, 3, wg.data(), 2, z.data());
  EXPECT_FLOAT_EQ(z[0], 1);
  EXPECT_FLOAT_EQ(z[1], 5);
  EXPECT_FLOAT_EQ(z[2], 4);
  EXPECT_FLOAT_EQ(z[3], 11);
}

}  // namespace
}  // namespace grace::engine
