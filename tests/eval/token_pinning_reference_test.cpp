// SequencePinning against the plain rule (each new sequence to the GPU with the fewest tokens so
// far, lowest id on ties, recounted over every GPU), on random sequence lengths split into
// random chunks, at GPU counts inside and beyond the fast path's 64.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "grace/token_pinning.h"

namespace grace {
namespace {

TEST(TokenPinningReference, SameGpusAsThePlainRule) {
  for (int G : {1, 2, 3, 8, 63, 64, 65, 100})
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      std::mt19937 rng(seed * 131 + uint32_t(G));
      Trace tr;
      tr.num_layers = 1;
      tr.top_k = 1;
      tr.seq_offsets = {0};
      // Single-token sequences (the planner's judge) mixed with longer ones.
      const int nseq = 3 * G + 40;
      for (int s = 0; s < nseq; ++s) tr.seq_offsets.push_back(tr.seq_offsets.back() + 1 + (rng() % 3 ? 0 : rng() % 9));
      const int64_t n = tr.seq_offsets.back();
      tr.ids.assign(size_t(n), 0);
      // Reference.
      std::vector<int> want(static_cast<size_t>(n));
      std::vector<int64_t> tokens(static_cast<size_t>(G), 0);
      for (int s = 0; s < nseq; ++s) {
        const int g = int(std::min_element(tokens.begin(), tokens.end()) - tokens.begin());
        for (int64_t t = tr.seq_offsets[size_t(s)]; t < tr.seq_offsets[size_t(s) + 1]; ++t) {
          want[size_t(t)] = g;
          ++tokens[size_t(g)];
        }
      }
      // In random chunks (boundaries inside sequences too).
      SequencePinning pin(G);
      std::vector<int> got(static_cast<size_t>(n));
      for (int64_t b = 0; b < n;) {
        const int64_t e = std::min<int64_t>(n, b + 1 + int64_t(rng() % 50));
        pin.assign(tr, b, e, got.data() + b);
        b = e;
      }
      EXPECT_EQ(got, want) << "G " << G << " seed " << seed;
      EXPECT_EQ(pin.tokens(), tokens) << "G " << G << " seed " << seed;
    }
}

}  // namespace
}  // namespace grace
