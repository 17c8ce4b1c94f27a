// BufferLayout: counts -> offsets, byte views and carving (see buffer_layout.h).
#include "engine/buffer_layout.h"

#include <algorithm>

#include "grace/error.h"

namespace grace::engine {

BufferLayout::BufferLayout(std::vector<int64_t> row_counts) : counts(std::move(row_counts)) {
  offsets.resize(counts.size());
  int64_t acc = 0;
  for (size_t p = 0; p < counts.size(); ++p) {
    GRACE_CHECK(counts[p] >= 0, "negative row count {} for peer {}", counts[p], p);
    offsets[p] = acc;
    acc += counts[p];
  }
  total_rows = acc;
}

std::vector<int64_t> BufferLayout::byte_counts(size_t row_bytes) const {
  std::vector<int64_t> out(counts.size());
  for (size_t p = 0; p < counts.size(); ++p) out[p] = counts[p] * int64_t(row_bytes);
  return out;
}

std::vector<int64_t> BufferLayout::byte_offsets(size_t row_bytes) const {
  std::vector<int64_t> out(offsets.size());
  for (size_t p = 0; p < offsets.size(); ++p) out[p] = offsets[p] * int64_t(row_bytes);
  return out;
}

int BufferLayout::peer_of_row(int64_t row) const {
  GRACE_CHECK(row >= 0 && row < total_rows, "row {} outside [0, {})", row, total_rows);
  // Last peer whose offset <= row and that has rows.
  auto it = std::upper_bound(offsets.begin(), offsets.end(), row);
  int p = int(it - offsets.begin()) - 1;
  while (counts[p] == 0) --p;  // skip empty peers sharing the same offset
  return p;
}

}  // namespace grace::engine
