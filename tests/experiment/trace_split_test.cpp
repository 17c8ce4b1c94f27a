// Splitting a trace into its planning and evaluation parts: the token ranges, and what a
// TraceReader limited to them (select_ranges) hands out.
#include "experiment/trace_split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "grace/error.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

using Ranges = std::vector<std::pair<int64_t, int64_t>>;

std::shared_ptr<const Trace> numbered(const std::vector<int64_t>& offsets) {
  auto t = std::make_shared<Trace>();
  t->num_layers = 1;
  t->top_k = 1;
  t->num_experts = 100;
  t->seq_offsets = offsets;
  for (int64_t i = 0; i < offsets.back(); ++i) t->ids.push_back(expert_t(i));
  return t;
}

// Everything the reader hands out, read in chunks of `chunk` tokens, as one trace; checks that
// each chunk's first_token / first_seq place it in the selection.
Trace read_all(TraceReader& r, int64_t chunk) {
  const std::vector<int64_t>& offs = r.seq_offsets();
  Trace all, c;
  all.num_layers = all.top_k = 1;
  all.seq_offsets = {0};
  int64_t last_seq = -1;
  while (r.next(c, chunk)) {
    EXPECT_EQ(c.first_token, all.num_tokens());
    EXPECT_EQ(c.first_seq, int64_t(std::upper_bound(offs.begin(), offs.end(), c.first_token) - offs.begin()) - 1);
    for (size_t s = 0; s + 1 < c.seq_offsets.size(); ++s) {  // a new sequence starts here
      const int64_t seq = c.first_seq + int64_t(s), start = c.first_token + c.seq_offsets[s];
      if (seq != last_seq && start > 0) all.seq_offsets.push_back(start);
      last_seq = seq;
    }
    all.ids.insert(all.ids.end(), c.ids.begin(), c.ids.end());
  }
  all.seq_offsets.push_back(all.num_tokens());
  return all;
}

TEST(TraceSplit, EvenSequencesPlanOddEvaluate) {
  auto t = numbered({0, 2, 5, 6, 9});  // sequences {0,1} {2,3,4} {5} {6,7,8}
  TraceSplit s = split_even_odd(t->seq_offsets, "t");
  EXPECT_TRUE(s.by_sequence);
  EXPECT_EQ(s.plan, (Ranges{{0, 2}, {5, 6}}));
  EXPECT_EQ(s.eval, (Ranges{{2, 5}, {6, 9}}));
  for (int64_t chunk : {1, 2, 4, 100}) {
    SCOPED_TRACE(chunk);
    TraceReader plan(t), eval(t);
    plan.select_ranges(s.plan);
    eval.select_ranges(s.eval);
    EXPECT_EQ(plan.shape().tokens, 3);
    EXPECT_EQ(plan.shape().seqs, 2);
    EXPECT_EQ(plan.seq_offsets(), (std::vector<int64_t>{0, 2, 3}));
    Trace p = read_all(plan, chunk), e = read_all(eval, chunk);
    EXPECT_EQ(p.ids, (std::vector<expert_t>{0, 1, 5}));
    EXPECT_EQ(p.seq_offsets, (std::vector<int64_t>{0, 2, 3}));
    EXPECT_EQ(e.ids, (std::vector<expert_t>{2, 3, 4, 6, 7, 8}));
    EXPECT_EQ(e.seq_offsets, (std::vector<int64_t>{0, 3, 6}));
    eval.rewind();  // the same again
    EXPECT_EQ(read_all(eval, chunk).ids, e.ids);
  }
}

TEST(TraceSplit, OneSequenceSplitsInHalves) {
  auto t = numbered({0, 5});
  TraceSplit s = split_even_odd(t->seq_offsets, "t");
  EXPECT_FALSE(s.by_sequence);
  TraceReader plan(t), eval(t);
  plan.select_ranges(s.plan);
  eval.select_ranges(s.eval);
  EXPECT_EQ(read_all(plan, 2).ids, (std::vector<expert_t>{0, 1}));
  EXPECT_EQ(read_all(eval, 2).ids, (std::vector<expert_t>{2, 3, 4}));
  EXPECT_THROW(split_even_odd({0, 1}, "t"), InputError);
}

// Halves: of each trace given, its first n / 2 sequences plan and the rest are evaluated; a trace
// of one sequence is cut at its middle token (one token: evaluated only).
TEST(TraceSplit, HalvesTakeEachTracesEarlierSequences) {
  // Three traces: [0, 9) with sequences {0,1} {2,3,4} {5} {6,7,8}; [9, 10) one token;
  // [10, 20) with {10..13} {14} {15..19}.
  const std::vector<int64_t> off = {0, 2, 5, 6, 9, 10, 14, 15, 20}, src = {0, 9, 10, 20};
  TraceSplit s = split_halves(off, src, "t");
  EXPECT_FALSE(s.by_sequence);  // the one-token trace was cut by tokens
  EXPECT_EQ(s.plan, (Ranges{{0, 2}, {2, 5}, {10, 14}}));
  EXPECT_EQ(s.eval, (Ranges{{5, 6}, {6, 9}, {9, 10}, {14, 15}, {15, 20}}));
  // One trace of one sequence: its token halves.
  s = split_halves({0, 5}, {0, 5}, "t");
  EXPECT_EQ(s.plan, (Ranges{{0, 2}}));
  EXPECT_EQ(s.eval, (Ranges{{2, 5}}));
  // Every trace whole sequences: by sequence.
  s = split_halves({0, 2, 5, 6, 9}, {0, 5, 9}, "t");
  EXPECT_TRUE(s.by_sequence);
  EXPECT_EQ(s.plan, (Ranges{{0, 2}, {5, 6}}));
  EXPECT_EQ(s.eval, (Ranges{{2, 5}, {6, 9}}));
  // Nothing to plan on: an input error naming the trace.
  try {
    split_halves({0, 1}, {0, 1}, "tiny.npy");
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny.npy"), std::string::npos) << e.what();
  }
}

// TraceReader::source_offsets: where each trace given starts in the concatenation, as the halves
// split reads it; unchanged by a selection.
TEST(TraceSplit, HalvesOfTracesReadTogether) {
  TraceReader r({"synthetic:deepseek-v2-lite:4000:1", "synthetic:deepseek-v2-lite:3000:2"}, 64);
  ASSERT_EQ(r.source_offsets(), (std::vector<int64_t>{0, 4000, 7000}));
  const std::vector<int64_t> off = r.seq_offsets();
  ASSERT_GT(std::count_if(off.begin(), off.end(), [](int64_t o) { return o < 4000; }), 3);  // several sequences in each
  TraceSplit s = split_halves(off, r.source_offsets(), "two traces");
  EXPECT_TRUE(s.by_sequence);
  int64_t plan_first = 0, eval_first = 0;  // tokens of the first trace on each side
  for (const auto& [b, e] : s.plan) plan_first += b < 4000 ? e - b : 0;
  for (const auto& [b, e] : s.eval) eval_first += b < 4000 ? e - b : 0;
  EXPECT_EQ(plan_first + eval_first, 4000);
  EXPECT_GT(plan_first, 0);
  EXPECT_GT(eval_first, 0);
  // Each trace's planned sequences come before its evaluated ones.
  EXPECT_LT(s.plan.front().first, s.eval.front().first);
  for (const auto& p : s.plan)
    for (const auto& e : s.eval)
      if ((p.first < 4000) == (e.first < 4000)) EXPECT_LE(p.second, e.first);
  r.select_ranges(s.eval);
  EXPECT_EQ(r.source_offsets(), (std::vector<int64_t>{0, 4000, 7000}));
}

// Every pass validates the whole trace, also the tokens outside its selection.
TEST(TraceSplit, TokensOutsideTheSelectionAreStillValidated) {
  auto t = std::make_shared<Trace>(*numbered({0, 2, 4}));
  t->top_k = 2;  // rows of two: {0,1} {2,3}; make the last row name an expert twice
  t->ids = {0, 1, 2, 2};
  t->seq_offsets = {0, 1, 2};
  TraceReader plan{std::shared_ptr<const Trace>(t)};
  plan.select_ranges({{0, 1}});
  Trace c;
  EXPECT_TRUE(plan.next(c, 10));
  EXPECT_THROW(plan.next(c, 10), InputError);
}

}  // namespace
}  // namespace grace
