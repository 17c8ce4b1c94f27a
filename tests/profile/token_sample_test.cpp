// Profile::sample: a bottom-m sketch of the profiled tokens' whole routing rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "grace/profile.h"

namespace grace {
namespace {

Trace random_rows(int layers, int experts, int k, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  Trace t;
  t.num_layers = layers, t.top_k = k, t.num_experts = experts;
  for (int64_t i = 0; i < tokens * layers; ++i) {
    std::set<int> chosen;
    while (int(chosen.size()) < k) chosen.insert(int(rng() % unsigned(experts)));
    for (int e : chosen) t.ids.push_back(expert_t(e));
  }
  t.seq_offsets = {0, tokens};
  return t;
}

Trace slice(const Trace& t, int64_t from, int64_t to) {
  Trace c;
  c.num_layers = t.num_layers, c.top_k = t.top_k, c.num_experts = t.num_experts;
  const size_t row = size_t(t.num_layers) * t.top_k;
  c.ids.assign(t.ids.begin() + from * int64_t(row), t.ids.begin() + to * int64_t(row));
  c.seq_offsets = {0, to - from};
  return c;
}

TEST(TokenSample, KeepsEveryTokenUnderCapacityWithItsRows) {
  Trace t = random_rows(3, 16, 2, 100, 1);
  Profile p(3, 16, 2);
  p.add(t);
  ASSERT_EQ(p.sample.size(), 100);
  EXPECT_EQ(p.sample.ids, t.ids);
  EXPECT_DOUBLE_EQ(p.sample_scale(), 1.0);
}

// Every sampled row is its token's own row whatever the thread count Profile::add runs on,
// kept whole under capacity and trimmed by a second chunk.
TEST(TokenSample, RowsAreTheirTokensOnAnyThreadCount) {
  Trace t = random_rows(2, 32, 3, 9000, 4);
  for (int threads : {1, 3, 8}) {
    Profile p(2, 32, 3);
    p.add(t, threads);
    ASSERT_EQ(p.sample.size(), 9000);
    EXPECT_EQ(p.sample.ids, t.ids) << threads << " threads";
    Profile q(2, 32, 3);
    q.sample.capacity = 6000;
    q.add(slice(t, 0, 4000), threads);
    q.add(slice(t, 4000, 9000), threads);
    ASSERT_EQ(q.sample.size(), 6000);
    const size_t row = 2 * 3;
    for (int64_t i = 0; i < q.sample.size(); ++i) {
      const int64_t tok = q.sample.token[size_t(i)];
      ASSERT_TRUE(std::equal(t.ids.begin() + tok * int64_t(row), t.ids.begin() + (tok + 1) * int64_t(row),
                             q.sample.ids.begin() + i * int64_t(row)))
          << threads << " threads, row " << i << " (token " << tok << ")";
    }
  }
}

// A trace read in many chunks moves its sampled rows a few times, not once per chunk: the rows'
// storage grows at least twofold (up to 2 x capacity rows), and it holds the same rows as a
// whole-trace add.
TEST(TokenSample, RowsGrowGeometricallyOverManyChunks) {
  Trace t = random_rows(2, 16, 2, 8192, 6);
  Profile whole(2, 16, 2), chunked(2, 16, 2);
  whole.add(t, 1);
  int moves = 0;
  const expert_t* at = nullptr;
  for (int64_t a = 0; a < 8192; a += 64) {
    chunked.add(slice(t, a, a + 64), 1);
    if (chunked.sample.ids.data() != at) ++moves, at = chunked.sample.ids.data();
  }
  EXPECT_EQ(chunked.sample.ids, whole.sample.ids);
  EXPECT_EQ(chunked.sample.token, whole.sample.token);
  // 64 -> 128 -> ... -> 8192 rows: 8 allocations; one per chunk would be 128.
  EXPECT_LE(moves, 8);
}

TEST(TokenSample, BoundedInTokenOrderAndIndependentOfChunking) {
  Trace t = random_rows(2, 32, 4, 5000, 2);
  Profile whole(2, 32, 4), chunked(2, 32, 4);
  whole.sample.capacity = chunked.sample.capacity = 700;
  whole.add(t);
  for (int64_t a = 0; a < 5000; a += 333) chunked.add(slice(t, a, std::min<int64_t>(5000, a + 333)));
  ASSERT_EQ(whole.sample.size(), 700);
  EXPECT_EQ(whole.sample.token, chunked.sample.token);
  EXPECT_EQ(whole.sample.ids, chunked.sample.ids);
  for (int64_t i = 1; i < whole.sample.size(); ++i) EXPECT_LT(whole.sample.token[i - 1], whole.sample.token[i]);
  // Rows are the sampled tokens' own rows.
  const size_t row = 2 * 4;
  for (int64_t i = 0; i < whole.sample.size(); i += 97) {
    const int64_t tok = whole.sample.token[size_t(i)];
    for (size_t j = 0; j < row; ++j) EXPECT_EQ(whole.sample.ids[size_t(i) * row + j], t.ids[size_t(tok) * row + j]);
  }
  // Spread over the whole trace, not its first tokens.
  EXPECT_GT(whole.sample.token.back(), 4000);
  EXPECT_LT(whole.sample.token.front(), 1000);
  EXPECT_NEAR(whole.sample_scale(), 5000.0 / 700, 1e-9);
}

TEST(TokenSample, MergeEqualsAddingBothParts) {
  Trace t = random_rows(2, 32, 4, 3000, 3);
  Profile all(2, 32, 4), a(2, 32, 4), b(2, 32, 4);
  all.sample.capacity = a.sample.capacity = b.sample.capacity = 10000;
  all.add(t);
  a.add(slice(t, 0, 1200));
  b.add(slice(t, 1200, 3000));
  a.merge(b);
  EXPECT_EQ(a.sample.token, all.sample.token);
  EXPECT_EQ(a.sample.ids, all.sample.ids);
}

// Each sampled row keeps its sequence (the planner's judge pins and batches the sample by it):
// the same numbering whole or in chunks (a chunk continuing a sequence), new numbers for a second
// trace (a chunk at token 0) and for a merged profile's rows.
TEST(TokenSample, RowsKeepTheirSequenceWholeChunkedAndMerged) {
  Trace t = random_rows(1, 16, 2, 300, 5);
  t.seq_offsets = {0, 100, 150, 300};
  auto seq_of = [](int64_t tok) -> int64_t { return tok < 100 ? 0 : tok < 150 ? 1 : 2; };
  Profile whole(1, 16, 2), chunked(1, 16, 2);
  whole.add(t);
  ASSERT_EQ(whole.sample.size(), 300);
  for (int64_t i = 0; i < 300; ++i) EXPECT_EQ(whole.sample.seq[size_t(i)], seq_of(i)) << i;
  EXPECT_EQ(whole.sequences, 3);

  Trace a = slice(t, 0, 120), b = slice(t, 120, 300);
  a.seq_offsets = {0, 100, 120};
  b.first_token = 120, b.first_seq = 1, b.seq_offsets = {0, 30, 180};  // continues sequence 1
  chunked.add(a);
  chunked.add(b);
  EXPECT_EQ(chunked.sample.seq, whole.sample.seq);
  EXPECT_EQ(chunked.sequences, 3);

  whole.add(t);  // a second trace: its first chunk is at token 0, so its sequences are new
  EXPECT_EQ(whole.sequences, 6);
  EXPECT_EQ(whole.sample.seq[300], 3);
  EXPECT_EQ(whole.sample.seq.back(), 5);

  const Profile again = chunked;
  chunked.merge(again);  // the merged rows follow, their sequences too
  EXPECT_EQ(chunked.sequences, 6);
  EXPECT_EQ(chunked.sample.seq, whole.sample.seq);
}

}  // namespace
}  // namespace grace
