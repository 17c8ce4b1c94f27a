#include "grace/token_pinning.h"

#include <gtest/gtest.h>

#include <vector>

namespace grace {

TEST(TokenPinning, SequencesGoToTheLeastLoadedGpuAcrossBatches) {
  Trace tr;
  tr.num_layers = 1;
  tr.top_k = 1;
  tr.ids.assign(12, 0);
  tr.seq_offsets = {0, 5, 6, 7, 12};  // lengths 5, 1, 1, 5
  SequencePinning pin(2);
  std::vector<int> a(4), b(8);
  pin.assign(tr, 0, 4, a.data());  // batch boundary inside sequence 0
  pin.assign(tr, 4, 12, b.data());
  EXPECT_EQ(a, (std::vector<int>{0, 0, 0, 0}));
  // seq 0 stays on 0; seq 1 -> 1 (0 tokens); seq 2 -> 1 (1 < 5); seq 3 -> 1 (2 < 5).
  EXPECT_EQ(b, (std::vector<int>{0, 1, 1, 1, 1, 1, 1, 1}));
}

TEST(TokenPinning, NoOffsetsMeansOneSequence) {
  Trace tr;
  tr.num_layers = 1;
  tr.top_k = 1;
  tr.ids.assign(3, 0);
  SequencePinning pin(4);
  std::vector<int> s(3);
  pin.assign(tr, 0, 3, s.data());
  EXPECT_EQ(s, (std::vector<int>{0, 0, 0}));
}

}  // namespace grace
