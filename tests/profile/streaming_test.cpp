// build_profile over a TraceReader (chunked, bounded memory) equals the in-memory profile.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "grace/profile.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

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
