// BufferLayout: the send/receive buffer arithmetic of one all-to-all exchange, in one place.
// Built from per-peer row counts, it gives each peer's row offset, the totals, the byte counts
// and byte offsets for a given row size, and carves a base pointer into per-peer slices. The
// same object sizes a buffer (total_bytes) and locates every slice in it (slice), so the
// engine, the reverse (combine) exchange and the unit tests share one piece of arithmetic.
// No MPI here: unit-testable on its own.
#ifndef GRACE_ENGINE_BUFFER_LAYOUT_H_
#define GRACE_ENGINE_BUFFER_LAYOUT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace grace::engine {

struct BufferLayout {
  std::vector<int64_t> counts;   // [peers] rows for / from each peer
  std::vector<int64_t> offsets;  // [peers] first row of each peer (exclusive prefix sum)
  int64_t total_rows = 0;

  BufferLayout() = default;
  // REQUIRES: counts[p] >= 0.
  explicit BufferLayout(std::vector<int64_t> row_counts);

  int num_peers() const { return int(counts.size()); }
  size_t total_bytes(size_t row_bytes) const { return size_t(total_rows) * row_bytes; }
  // Per-peer byte counts / offsets for rows of row_bytes (what Comm::alltoallv takes).
  std::vector<int64_t> byte_counts(size_t row_bytes) const;
  std::vector<int64_t> byte_offsets(size_t row_bytes) const;
  // The slice of peer p in a buffer of rows of row_bytes starting at base.
  template <typename T>
  T* slice(T* base, int p, size_t row_bytes) const {
    return reinterpret_cast<T*>(reinterpret_cast<char*>(base) + size_t(offsets[p]) * row_bytes);
  }
  // Row index -> peer that row belongs to (binary search over offsets).
  int peer_of_row(int64_t row) const;
};

}  // namespace grace::engine

#endif  // GRACE_ENGINE_BUFFER_LAYOUT_H_
