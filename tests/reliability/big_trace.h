// A trace too large to hold whole (10M tokens x 4 layers x top-2 as .npy.gz, a few hundred KB on
// disk, written in chunks): the memory-bound tests run streamed commands on it and compare their
// max RSS with docs/reliability.md's bound.
#ifndef GRACE_TESTS_RELIABILITY_BIG_TRACE_H_
#define GRACE_TESTS_RELIABILITY_BIG_TRACE_H_

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "trace/npy.h"

namespace grace::reliability {

constexpr int64_t kBigTraceTokens = 10'000'000;
constexpr int kBigTraceLayers = 4, kBigTraceTopK = 2;

// Writes dir/topk_ids.npy.gz: every token routes to experts (i % 7, i % 7 + 1) of 8.
inline void write_big_trace(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const int64_t per = int64_t(kBigTraceLayers) * kBigTraceTopK;
  NpyWriter w(dir + "/topk_ids.npy.gz", NpyDtype::kU1, {kBigTraceTokens, kBigTraceLayers, kBigTraceTopK}, true);
  std::vector<uint8_t> buf(size_t(1 << 16) * per);
  for (size_t i = 0; i < buf.size(); i += 2) buf[i] = uint8_t((i / 2) % 7), buf[i + 1] = uint8_t((i / 2) % 7 + 1);
  for (int64_t t = 0; t < kBigTraceTokens; t += 1 << 16)
    w.write(buf.data(), std::min<int64_t>(1 << 16, kBigTraceTokens - t) * per);
  w.commit();
}

}  // namespace grace::reliability

#endif  // GRACE_TESTS_RELIABILITY_BIG_TRACE_H_
