#include "grace/trace_stats.h"

#include <gtest/gtest.h>

#include <string>

#include "grace/synth.h"

namespace grace {
namespace {

// One layer, top-1, 4 experts: loads 6, 2, 0, 0 over 8 tokens in two sequences.
Trace tiny() {
  Trace tr;
  tr.num_layers = 1;
  tr.top_k = 1;
  tr.num_experts = 4;
  tr.ids = {0, 0, 0, 1, 0, 0, 1, 0};
  tr.seq_offsets = {0, 4, 8};
  return tr;
}

TEST(TraceStats, LoadSkewAndGiniOnAHandComputedTrace) {
  TraceStats s = compute_trace_stats(tiny(), 4);
  EXPECT_EQ(s.tokens, 8);
  EXPECT_EQ(s.seqs, 2);
  EXPECT_DOUBLE_EQ(s.load_max_mean_median, 6.0 / 2.0);
  // Gini of (0, 0, 2, 6): sum |xi - xj| over ordered pairs = 2*(2+6+2+6+4) = 40; / (2 n^2 mean) = 40/64.
  EXPECT_NEAR(s.gini_median, 40.0 / 64.0, 1e-12);
  // Windows of 4: loads (3, 1, 0, 0) and (3, 1, 0, 0): max/mean 3 in both.
  EXPECT_DOUBLE_EQ(s.window_max_mean_median, 3.0);
  EXPECT_DOUBLE_EQ(s.window_max_mean_p90, 3.0);
  // Consecutive pairs inside sequences: (0,0) (0,0) (0,1) | (0,0) (0,1) (1,0): 3 shared of 6.
  EXPECT_DOUBLE_EQ(s.consecutive_overlap, 0.5);
}

TEST(TraceStats, HotPairsAndSuccessorsOnPlantedStructure) {
  // Two layers, top-2, 6 experts, 600 tokens: each token takes one of the pairs {0,1} {2,3}
  // {4,5} in turn, and layer 1 repeats layer 0. A planted pair co-occurs 200 times against
  // 200 x 200 / 600 = 67 expected under independence.
  Trace tr;
  tr.num_layers = 2;
  tr.top_k = 2;
  tr.num_experts = 6;
  for (int t = 0; t < 600; ++t) {
    int g = t % 3;
    for (int l = 0; l < 2; ++l) {
      tr.ids.push_back(expert_t(2 * g));
      tr.ids.push_back(expert_t(2 * g + 1));
    }
  }
  tr.seq_offsets = {0, 600};
  TraceStats s = compute_trace_stats(tr);
  EXPECT_NEAR(s.hot_pair_share, 3.0 / 15.0, 1e-12);  // 3 planted pairs of 15
  // Expert 2g at layer 0 is always followed by 2g at layer 1: P = 1 vs marginal 1/3.
  EXPECT_NEAR(s.successor_lift, 3.0, 1e-9);
  EXPECT_DOUBLE_EQ(s.consecutive_overlap, 0.0);
  EXPECT_DOUBLE_EQ(s.load_max_mean_median, 1.0);
  EXPECT_NEAR(s.gini_median, 0.0, 1e-12);
}

TEST(TraceStats, UniformTraceHasNoStructure) {
  Trace tr = uniform_trace(4, 32, 4, 20000, 3);
  TraceStats s = compute_trace_stats(tr);
  EXPECT_LT(s.load_max_mean_median, 1.1);
  EXPECT_LT(s.gini_median, 0.05);
  EXPECT_LT(s.hot_pair_share, 0.01);
  EXPECT_LT(s.successor_lift, 1.35);  // max over 32 noisy ratios, not much above 1
  EXPECT_NEAR(s.consecutive_overlap, 4.0 / 32.0, 0.01);
  EXPECT_GT(s.window_max_mean_median, 1.1);  // sampling noise in 512-token windows
  EXPECT_LT(s.window_max_mean_median, 2.0);
}

TEST(TraceStats, JsonAndTextNameEveryField) {
  TraceStats s = compute_trace_stats(tiny(), 4);
  std::string json = trace_stats_json(s);
  std::string text = format_trace_stats(s);
  for (const char* key : {"tokens", "seqs", "load_max_mean_median", "gini_median", "window_max_mean_median",
                          "window_max_mean_p90", "hot_pair_share", "successor_lift", "consecutive_overlap"})
    EXPECT_NE(json.find(std::string("\"") + key + "\":"), std::string::npos) << key;
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(text.find("Gini"), std::string::npos);
}

}  // namespace
}  // namespace grace
