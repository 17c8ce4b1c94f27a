// Splitting a trace into its planning and evaluation parts.
#include <gtest/gtest.h>

#include "experiment/trace_split.h"

namespace grace {
namespace {

Trace numbered(const std::vector<int64_t>& offsets) {
  Trace t;
  t.num_layers = 1;
  t.top_k = 1;
  t.num_experts = 100;
  t.seq_offsets = offsets;
  for (int64_t i = 0; i < offsets.back(); ++i) t.ids.push_back(expert_t(i));
  return t;
}

TEST(TraceSplit, EvenSequencesPlanOddEvaluate) {
  Trace t = numbered({0, 2, 5, 6, 9});  // sequences {0,1} {2,3,4} {5} {6,7,8}
  TraceSplit s = split_even_odd(t);
  EXPECT_TRUE(s.by_sequence);
  EXPECT_EQ(s.plan.ids, (std::vector<expert_t>{0, 1, 5}));
  EXPECT_EQ(s.plan.seq_offsets, (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(s.eval.ids, (std::vector<expert_t>{2, 3, 4, 6, 7, 8}));
  EXPECT_EQ(s.eval.seq_offsets, (std::vector<int64_t>{0, 3, 6}));
}

TEST(TraceSplit, OneSequenceSplitsInHalves) {
  Trace t = numbered({0, 5});
  TraceSplit s = split_even_odd(t);
  EXPECT_FALSE(s.by_sequence);
  EXPECT_EQ(s.plan.ids, (std::vector<expert_t>{0, 1}));
  EXPECT_EQ(s.eval.ids, (std::vector<expert_t>{2, 3, 4}));
}

}  // namespace
}  // namespace grace
