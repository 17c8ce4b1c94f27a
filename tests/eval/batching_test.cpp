// Batching (grace/evaluate.h): trace-order batches against balanced ones, where every GPU gives
// each batch batch_tokens / GPUs of its own sequences' tokens, on a hand case; the streamed and
// in-memory evaluators agree; a trace whose tokens all sit on one GPU still ends.
#include <gtest/gtest.h>

#include <memory>

#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/model.h"
#include "grace/trace_io.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

using testing::hand_placement;
using testing::hand_topology;
using V = std::vector<int64_t>;

// 2 nodes x 2 GPUs, expert e on GPU e. Every token picks expert 0 (GPU 0), so under flat
// communication a GPU sends each of its own tokens to GPU 0 unless it is GPU 0: its sends count
// the tokens it gave the batch.
Placement one_hot_placement() { return hand_placement(2, 2, {{{{0, 1}}, {{1, 1}}, {{2, 1}}, {{3, 1}}}}); }

// seqs sequences of len tokens; pinning puts sequence s on GPU s % 4.
Trace uniform_trace(int seqs, int len) {
  Trace t;
  t.num_layers = 1;
  t.top_k = 1;
  t.num_experts = 4;
  t.ids.assign(size_t(seqs) * len, 0);
  for (int s = 0; s <= seqs; ++s) t.seq_offsets.push_back(int64_t(s) * len);
  return t;
}

EvalResult run(const Trace& t, Batching b, int64_t batch_tokens) {
  EvalOptions o;
  o.router = "primary";
  o.comm = CommScheme::kFlat;
  o.batch_tokens = batch_tokens;
  o.batching = b;
  return evaluate(t, one_hot_placement(), hand_topology(2, 2), generic_model(1, 4, 1, 1000), o);
}

TEST(Batching, BalancedBatchesTakeEveryGpusShare) {
  const Trace t = uniform_trace(8, 10);  // 80 tokens, 20 per GPU
  const EvalResult trace = run(t, Batching::kTrace, 8);
  const EvalResult balanced = run(t, Batching::kBalanced, 8);
  ASSERT_EQ(balanced.records.size(), 10u);
  for (const auto& rec : balanced.records) {
    EXPECT_EQ(rec.tokens, 8);
    EXPECT_EQ(rec.gpu_pairs, (V{8, 0, 0, 0}));
    EXPECT_EQ(rec.send_intra, (V{0, 2, 0, 0}));  // 2 tokens from each GPU
    EXPECT_EQ(rec.send_inter, (V{0, 0, 2, 2}));
    EXPECT_EQ(rec.nic_busiest, 4);
  }
  // Trace order: the first batch is the first sequence's 8 tokens, all on GPU 0.
  ASSERT_EQ(trace.records.size(), 10u);
  EXPECT_EQ(trace.records[0].send_intra, (V{0, 0, 0, 0}));
  EXPECT_EQ(trace.records[0].send_inter, (V{0, 0, 0, 0}));
  // The same tokens on the same GPUs: equal totals, different batches.
  EXPECT_EQ(balanced.total.inter_copies, trace.total.inter_copies);
  EXPECT_EQ(balanced.total.intra_copies, trace.total.intra_copies);
  EXPECT_EQ(balanced.total.pairs, trace.total.pairs);
  EXPECT_EQ(balanced.batching, Batching::kBalanced);
  EXPECT_NE(eval_json(balanced).find("\"batching\":\"balanced\""), std::string::npos);
}

TEST(Batching, StreamedEqualsInMemory) {
  const Trace t = uniform_trace(9, 7);  // 63 tokens: uneven queues and a short last batch
  const EvalResult mem = run(t, Batching::kBalanced, 8);
  EvalOptions o;
  o.router = "primary";
  o.comm = CommScheme::kFlat;
  o.batch_tokens = 8;
  o.batching = Batching::kBalanced;
  TraceReader reader(std::make_shared<const Trace>(t));
  const EvalResult streamed =
      evaluate(reader, one_hot_placement(), hand_topology(2, 2), generic_model(1, 4, 1, 1000), o);
  ASSERT_EQ(streamed.records.size(), mem.records.size());
  int64_t tokens = 0;
  for (size_t i = 0; i < mem.records.size(); ++i) {
    EXPECT_EQ(streamed.records[i].tokens, mem.records[i].tokens) << i;
    EXPECT_EQ(streamed.records[i].send_inter, mem.records[i].send_inter) << i;
    EXPECT_EQ(streamed.records[i].send_intra, mem.records[i].send_intra) << i;
    EXPECT_LE(mem.records[i].tokens, 8);
    tokens += mem.records[i].tokens;
  }
  EXPECT_EQ(tokens, 63);
}

TEST(Batching, OneSequenceOnOneGpuStillEnds) {
  Trace t = uniform_trace(1, 100);  // every token on GPU 0
  const EvalResult r = run(t, Batching::kBalanced, 8);
  int64_t tokens = 0;
  for (const auto& rec : r.records) {
    EXPECT_LE(rec.tokens, 8);
    EXPECT_EQ(rec.send_inter, (V{0, 0, 0, 0}));
    tokens += rec.tokens;
  }
  EXPECT_EQ(tokens, 100);
  EXPECT_LE(int64_t(r.records.size()), max_batches(100, 8, Batching::kBalanced, 4));
}

TEST(Batching, NamesParseAndUnknownOnesAreInputErrors) {
  EXPECT_EQ(parse_batching("trace"), Batching::kTrace);
  EXPECT_EQ(parse_batching("balanced"), Batching::kBalanced);
  EXPECT_STREQ(batching_name(Batching::kBalanced), "balanced");
  EXPECT_THROW(parse_batching("steps"), InputError);
  EXPECT_EQ(max_batches(80, 8, Batching::kTrace, 4), 10);
  EXPECT_EQ(max_batches(80, 8, Batching::kBalanced, 4), 40);
}

}  // namespace
}  // namespace grace
