// build_profile and stream_profile over a TraceReader (chunked with read-ahead, bounded memory)
// equal the in-memory profile; errors come in stream order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "grace/error.h"
#include "grace/profile.h"
#include "grace/profile_stream.h"
#include "grace/trace_io.h"
#include "random_trace.h"

namespace grace {
namespace {

using grace::testing::random_trace;

void expect_same(const Profile& a, const Profile& b) {
  ASSERT_EQ(a.num_layers, b.num_layers);
  ASSERT_EQ(a.num_experts, b.num_experts);
  EXPECT_EQ(a.tokens, b.tokens);
  for (int l = 0; l < a.num_layers; ++l) {
    EXPECT_EQ(a.layers[l].load, b.layers[l].load) << "layer " << l;
    EXPECT_EQ(a.layers[l].affinity, b.layers[l].affinity) << "layer " << l;
  }
}

TEST(StreamingProfile, ReaderChunksEqualWholeTrace) {
  Trace t;
  t.num_layers = 3;
  t.top_k = 4;
  t.num_experts = 20;
  std::mt19937 rng(5);
  const int64_t tokens = 2500;
  for (int64_t i = 0; i < tokens * 3; ++i) {
    std::vector<expert_t> all(20);
    for (int e = 0; e < 20; ++e) all[e] = expert_t(e);
    std::shuffle(all.begin(), all.end(), rng);
    t.ids.insert(t.ids.end(), all.begin(), all.begin() + 4);
  }
  t.seq_offsets = {0, 1000, 2500};
  auto dir = std::filesystem::temp_directory_path() / ("grace_stream_" + std::to_string(::getpid()));
  write_trace(t, dir.string(), /*gzip=*/true);
  TraceReader reader({dir.string()}, 20);
  Profile streamed = build_profile(reader, 20, /*chunk_tokens=*/333);
  std::filesystem::remove_all(dir);
  expect_same(streamed, build_profile(t));
}

// With read-ahead the chunks are cut from the trace's size and the bound: the profile, its token
// sample and its sequences are the whole trace's for any bound and thread count, and the callback
// sees every chunk, the last with every token.
TEST(StreamingProfile, ReadAheadEqualsTheWholeTraceForAnyChunkAndThreads) {
  Trace r = random_trace(3, 24, 4, 20000, 9);
  r.seq_offsets = {0, 20000 / 3, 20000};
  auto t = std::make_shared<const Trace>(r);
  const Profile whole = build_profile(*t);
  for (int64_t bound : {64, 333, 8192, 65536}) {
    for (int threads : {1, 3}) {
      TraceReader reader(t);
      std::vector<int64_t> seen;
      const Profile p = stream_profile(reader, 24, bound, threads, [&](const Profile& q) { seen.push_back(q.tokens); });
      expect_same(p, whole);
      EXPECT_EQ(p.sequences, whole.sequences);
      EXPECT_EQ(p.sample.token, whole.sample.token);
      EXPECT_EQ(p.sample.seq, whole.sample.seq);
      EXPECT_EQ(p.sample.ids, whole.sample.ids);
      ASSERT_FALSE(seen.empty()) << "bound " << bound;
      EXPECT_EQ(seen.back(), 20000) << "bound " << bound;
      for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
      if (bound >= 8192) {
        EXPECT_GE(seen.size(), 4u) << "a small trace is cut for the overlap";
      }
    }
  }
}

// A chunk's counting error comes before the next chunk's read error, though the next chunk is
// read while the first is counted; a read error alone is reported as it is.
TEST(StreamingProfile, ErrorsInStreamOrder) {
  Trace t = random_trace(2, 16, 3, 12000, 4);
  t.seq_offsets = {0, 4000, 12000};
  // Chunks of 4,096 tokens. Token 10 (first chunk), layer 1: id 20 passes the reader (the trace
  // says 32 experts) but not a profile of 16. Token 5000 (second chunk, read while the first is
  // counted), layer 0: a duplicate, which the reader itself refuses.
  t.num_experts = 32;
  t.ids[size_t((10 * 2 + 1) * 3)] = 20;
  t.ids[size_t((5000 * 2 + 0) * 3 + 1)] = t.ids[size_t((5000 * 2 + 0) * 3)];
  auto bad = std::make_shared<const Trace>(t);
  for (int threads : {1, 3}) {
    TraceReader both(bad);
    try {
      stream_profile(both, 16, 65536, threads);
      ADD_FAILURE() << "bad trace accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("token 10, layer 1: expert id 20 >= 16"), std::string::npos) << e.what();
    }
    Trace dup_only = t;  // token 10 mended
    dup_only.ids[size_t((10 * 2 + 1) * 3)] = 0;
    dup_only.ids[size_t((10 * 2 + 1) * 3 + 1)] = 1;
    dup_only.ids[size_t((10 * 2 + 1) * 3 + 2)] = 2;
    TraceReader dup(std::make_shared<const Trace>(dup_only));
    try {
      stream_profile(dup, 16, 65536, threads);
      ADD_FAILURE() << "duplicate accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("token 5000, layer 0"), std::string::npos) << e.what();
    }
  }
}

TEST(StreamingProfile, RealTraceTotals) {
  const std::string path = std::string(GRACE_SHARED_DATA) + "/traces/deepseek-v2-lite-esft/law_topk_ids.npy.gz";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared data absent: " << path;
  TraceReader reader({path}, 64);
  Profile streamed = build_profile(reader, 64, 1000);
  Profile whole = build_profile(read_trace({path}, 64));
  expect_same(streamed, whole);
  ASSERT_EQ(streamed.num_layers, 26);
  for (const auto& l : streamed.layers) {
    EXPECT_EQ(l.total_load(), streamed.tokens * 6);
    int64_t pairs = 0;
    for (int64_t a : l.affinity) pairs += a;
    EXPECT_EQ(pairs, streamed.tokens * 6 * 5);  // k(k-1)/2 pairs per token, counted both ways
  }
}

}  // namespace
}  // namespace grace
