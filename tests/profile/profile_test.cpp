#include "grace/profile.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "grace/error.h"
#include "random_trace.h"

namespace grace {
namespace {

using grace::testing::random_trace;

// Builds a trace from per-token rows: rows[t][l] = the top-k ids of token t at layer l.
Trace make_trace(int experts, const std::vector<std::vector<std::vector<int>>>& rows) {
  Trace t;
  t.num_layers = int(rows[0].size());
  t.top_k = int(rows[0][0].size());
  t.num_experts = experts;
  for (const auto& tok : rows)
    for (const auto& layer : tok)
      for (int id : layer) t.ids.push_back(expert_t(id));
  t.seq_offsets = {0, int64_t(rows.size())};
  return t;
}

void expect_same(const Profile& a, const Profile& b) {
  ASSERT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.tokens, b.tokens);
  for (int l = 0; l < a.num_layers; ++l) {
    EXPECT_EQ(a.layers[l].load, b.layers[l].load) << "layer " << l;
    EXPECT_EQ(a.layers[l].affinity, b.layers[l].affinity) << "layer " << l;
  }
}

TEST(Profile, LoadAndAffinityOnHandComputedExample) {
  // 3 tokens, 2 layers, 4 experts, top-3.
  Trace t = make_trace(4, {{{0, 1, 2}, {3, 0, 1}}, {{1, 2, 3}, {3, 0, 2}}, {{2, 0, 3}, {1, 3, 0}}});
  Profile p = build_profile(t);
  EXPECT_EQ(p.tokens, 3);
  // Layer 0 pairs: t0 01 02 12; t1 12 13 23; t2 02 03 23.
  EXPECT_EQ(p.layers[0].load, (std::vector<int64_t>{2, 2, 3, 2}));
  const std::vector<int64_t> a0 = {0, 1, 2, 1, 1, 0, 2, 1, 2, 2, 0, 2, 1, 1, 2, 0};
  EXPECT_EQ(p.layers[0].affinity, a0);
  // Layer 1 pairs: t0 03 01 13; t1 03 02 23; t2 13 01 03.
  EXPECT_EQ(p.layers[1].load, (std::vector<int64_t>{3, 2, 1, 3}));
  const std::vector<int64_t> a1 = {0, 2, 1, 3, 2, 0, 0, 2, 1, 0, 0, 1, 3, 2, 1, 0};
  EXPECT_EQ(p.layers[1].affinity, a1);
  EXPECT_EQ(p.layers[1].aff(0, 3), 3);
  EXPECT_EQ(p.layers[1].total_load(), 9);
}

TEST(Profile, EachTokenAddsKChoose2PairsBothWays) {
  Trace t = random_trace(3, 16, 6, 500, 7);
  Profile p = build_profile(t);
  for (const auto& l : p.layers) {
    int64_t sum = 0;
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(l.aff(i, i), 0);
      for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(l.aff(i, j), l.aff(j, i));
        sum += l.aff(i, j);
      }
    }
    EXPECT_EQ(sum, 500 * 15 * 2);
    EXPECT_EQ(l.total_load(), 500 * 6);
  }
}

TEST(Profile, RejectsDuplicateIdsInATokensTopK) {
  Trace t = make_trace(4, {{{0, 1, 2}}, {{1, 3, 1}}});
  try {
    build_profile(t);
    FAIL() << "duplicate ids accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("token 1, layer 0: expert 1 appears twice"), std::string::npos) << e.what();
  }
}

TEST(Profile, RejectsOutOfRangeIdsAndShapeMismatch) {
  Trace t = make_trace(4, {{{0, 1}}, {{2, 4}}});
  EXPECT_THROW(build_profile(t), InputError);
  Profile p(2, 4, 2);
  Trace one_layer = make_trace(4, {{{0, 1}}});
  EXPECT_THROW(p.add(one_layer), InputError);
  EXPECT_THROW(Profile(1, 4, 5), InputError);
}

TEST(Profile, StreamingChunksEqualTheWholeTrace) {
  Trace whole = random_trace(4, 32, 4, 3001, 11);
  Profile ref = build_profile(whole);
  Profile streamed(4, 32, 4);
  const int64_t stride = 4 * 4;
  for (int64_t t0 = 0; t0 < whole.num_tokens(); t0 += 700) {
    const int64_t t1 = std::min(whole.num_tokens(), t0 + 700);
    Trace chunk;
    chunk.num_layers = 4;
    chunk.top_k = 4;
    chunk.num_experts = 32;
    chunk.first_token = t0;
    chunk.ids.assign(whole.ids.begin() + t0 * stride, whole.ids.begin() + t1 * stride);
    streamed.add(chunk);
  }
  expect_same(ref, streamed);
  // merge of two halves equals the whole too.
  Profile a(4, 32, 4), b(4, 32, 4);
  Trace h1 = whole, h2 = whole;
  h1.ids.resize(size_t(1500 * stride));
  h2.ids.erase(h2.ids.begin(), h2.ids.begin() + 1500 * stride);
  a.add(h1);
  b.add(h2);
  a.merge(b);
  expect_same(ref, a);
  EXPECT_THROW(a.merge(Profile(4, 16, 4)), InputError);
}

// Profile::add counts the layers on threads; the profile, its sample and the error a bad id
// raises must not depend on how many. Big enough that the threads' layers overlap in time.
TEST(Profile, SameProfileAndSameErrorForAnyThreadCount) {
  const int layers = 9, experts = 48, k = 6;
  const int64_t tokens = 24000;
  Trace whole = random_trace(layers, experts, k, tokens, 5);
  whole.seq_offsets = {0, 7000, 19000, tokens};
  Profile ref(layers, experts, k);
  ref.add(whole, 1);
  for (int threads : {2, 3, 8, 16}) {
    Profile p(layers, experts, k);
    p.add(whole, threads);
    expect_same(ref, p);
    EXPECT_EQ(p.sequences, ref.sequences) << threads << " threads";
    EXPECT_EQ(p.sample.token, ref.sample.token) << threads << " threads";
    EXPECT_EQ(p.sample.seq, ref.sample.seq) << threads << " threads";
    EXPECT_EQ(p.sample.ids, ref.sample.ids) << threads << " threads";
  }
  // Bad ids in layer 0 (its last token) and layer 1 (token 0, found first in time): every thread
  // count names layer 0's, as a pass over the layers in order does.
  Trace bad = whole;
  const int64_t row = int64_t(layers) * k;
  bad.ids[size_t((tokens - 1) * row + 0 * k + 1)] = 50;
  bad.ids[size_t(0 * row + 1 * k)] = 48;
  for (int threads : {1, 2, 3, 16}) {
    Profile p(layers, experts, k);
    try {
      p.add(bad, threads);
      ADD_FAILURE() << "bad ids accepted on " << threads << " threads";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("token 23999, layer 0: expert id 50 >= 48"), std::string::npos)
          << threads << " threads: " << e.what();
    }
  }
}

TEST(WindowSkew, TinyCase) {
  // 1 layer, 2 experts, top-1; windows of 4: [0,0,0,1] -> 3/2; [0,1,0,1] -> 1; tail [1] dropped.
  Trace t = make_trace(2, {{{0}}, {{0}}, {{0}}, {{1}}, {{0}}, {{1}}, {{0}}, {{1}}, {{1}}});
  WindowSkew w = window_skew(t, 4);
  EXPECT_EQ(w.window_tokens, 4);
  ASSERT_EQ(w.max_mean_median.size(), 1u);
  EXPECT_DOUBLE_EQ(w.max_mean_median[0], 1.25);
  EXPECT_DOUBLE_EQ(w.max_mean_p90[0], 1.45);
  // A window longer than the trace: the whole trace is one window (5 of 9 on one expert).
  WindowSkew whole = window_skew(t, 100);
  EXPECT_DOUBLE_EQ(whole.max_mean_median[0], 5.0 / 4.5);
  EXPECT_THROW(window_skew(t, 0), InputError);
}

// Throughput check, not part of the default run: 1M tokens x 26 layers x top-6 over 64 experts.
// Run with --gtest_also_run_disabled_tests --gtest_filter='*OneMillion*'.
TEST(ProfilePerf, DISABLED_OneMillionTokensDeepseekShape) {
  Trace t = random_trace(26, 64, 6, 1 << 20, 3);
  auto t0 = std::chrono::steady_clock::now();
  Profile p(26, 64, 6);
  for (int64_t s = 0; s < t.num_tokens(); s += 65536) {
    Trace chunk;
    chunk.num_layers = 26;
    chunk.top_k = 6;
    chunk.num_experts = 64;
    const int64_t stride = 26 * 6;
    chunk.ids.assign(t.ids.begin() + s * stride, t.ids.begin() + std::min(t.num_tokens(), s + 65536) * stride);
    p.add(chunk);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("profiled %lld tokens x 26 layers x top-6 in %.3f s\n", (long long)p.tokens, secs);
  EXPECT_EQ(p.tokens, 1 << 20);
}

}  // namespace
}  // namespace grace
