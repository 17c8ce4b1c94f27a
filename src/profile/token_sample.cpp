// The token sample of a Profile (grace/profile.h): a bottom-m sketch over the profile's token
// indices. Each add keeps the rows whose key is below the current threshold, then trims to the
// `capacity` smallest keys and restores token order.
#include "profile/token_sample.h"

#include <algorithm>
#include <numeric>

#include "grace/profile.h"

namespace grace {
namespace {

uint64_t sketch_key(int64_t token) {
  uint64_t x = uint64_t(token) + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Keeps the `capacity` smallest keys, in token order.
void trim(TokenSample& s, size_t row) {
  const size_t n = s.token.size();
  if (int64_t(n) <= s.capacity) return;
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t(0));
  std::nth_element(idx.begin(), idx.begin() + s.capacity, idx.end(),
                   [&](size_t a, size_t b) { return s.hash[a] < s.hash[b]; });
  idx.resize(size_t(s.capacity));
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return s.token[a] < s.token[b]; });
  TokenSample out;
  out.capacity = s.capacity;
  out.token.reserve(idx.size());
  out.hash.reserve(idx.size());
  out.ids.reserve(idx.size() * row);
  for (size_t i : idx) {
    out.token.push_back(s.token[i]);
    out.hash.push_back(s.hash[i]);
    out.seq.push_back(s.seq[i]);
    out.ids.insert(out.ids.end(), s.ids.begin() + i * row, s.ids.begin() + (i + 1) * row);
  }
  s = std::move(out);
}

uint64_t threshold(const TokenSample& s) {
  if (int64_t(s.token.size()) < s.capacity) return ~uint64_t(0);
  return *std::max_element(s.hash.begin(), s.hash.end());
}

}  // namespace

namespace profile {

void sample_add(TokenSample& s, const Trace& chunk, int64_t first_index, int64_t first_seq) {
  if (s.capacity <= 0) return;
  size_t seq_at = 0;  // chunk.seq_offsets[seq_at] <= t < chunk.seq_offsets[seq_at + 1]
  const size_t row = size_t(chunk.num_layers) * chunk.top_k;
  const int64_t n = chunk.num_tokens();
  uint64_t th = threshold(s);
  // The sample holds at most 2 x capacity rows between trims. Room for what this chunk can add,
  // grown at least twofold (up to that bound): growing by one chunk at a time would copy every
  // row held so far once per chunk.
  const size_t held = s.token.capacity();
  const size_t bound = size_t(2 * s.capacity);
  const size_t rows = std::min(size_t(s.size() + n), bound);
  if (rows > held) {
    const size_t want = std::max(rows, std::min(2 * held, bound));
    s.token.reserve(want);
    s.hash.reserve(want);
    s.seq.reserve(want);
    s.ids.reserve(want * row);
  }
  for (int64_t t = 0; t < n; ++t) {
    const uint64_t h = sketch_key(first_index + t);
    while (seq_at + 2 < chunk.seq_offsets.size() && chunk.seq_offsets[seq_at + 1] <= t) ++seq_at;
    if (h >= th && int64_t(s.token.size()) >= s.capacity) continue;
    s.token.push_back(first_index + t);
    s.hash.push_back(h);
    s.seq.push_back(first_seq + int64_t(seq_at));
    s.ids.insert(s.ids.end(), chunk.ids.begin() + t * row, chunk.ids.begin() + (t + 1) * row);
    if (int64_t(s.token.size()) >= 2 * s.capacity) {
      trim(s, row);
      th = threshold(s);
    }
  }
  trim(s, row);
}

void sample_merge(TokenSample& s, const TokenSample& other, int64_t offset, int64_t seq_offset, size_t row) {
  // Re-key the other profile's rows by their index in the merged profile.
  for (int64_t i = 0; i < other.size(); ++i) {
    const int64_t tok = other.token[size_t(i)] + offset;
    s.token.push_back(tok);
    s.hash.push_back(sketch_key(tok));
    s.seq.push_back(other.seq[size_t(i)] + seq_offset);
    s.ids.insert(s.ids.end(), other.ids.begin() + i * int64_t(row), other.ids.begin() + (i + 1) * int64_t(row));
  }
  trim(s, row);
}

}  // namespace profile
}  // namespace grace
