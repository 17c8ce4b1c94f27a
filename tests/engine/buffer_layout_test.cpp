#include "engine/buffer_layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "grace/error.h"

namespace grace::engine {

TEST(BufferLayout, OffsetsAreExclusivePrefixSums) {
  BufferLayout b({3, 0, 2, 5});
  EXPECT_EQ(b.offsets, (std::vector<int64_t>{0, 3, 3, 5}));
  EXPECT_EQ(b.total_rows, 10);
  EXPECT_EQ(b.total_bytes(16), 160u);
  EXPECT_EQ(b.byte_counts(16), (std::vector<int64_t>{48, 0, 32, 80}));
  EXPECT_EQ(b.byte_offsets(16), (std::vector<int64_t>{0, 48, 48, 80}));
}

TEST(BufferLayout, PeerOfRowSkipsEmptyPeers) {
  BufferLayout b({0, 3, 0, 0, 2, 0});
  EXPECT_EQ(b.peer_of_row(0), 1);
  EXPECT_EQ(b.peer_of_row(2), 1);
  EXPECT_EQ(b.peer_of_row(3), 4);
  EXPECT_EQ(b.peer_of_row(4), 4);
  EXPECT_THROW(b.peer_of_row(5), Error);
}

TEST(BufferLayout, SlicesCarveOneBufferWithoutOverlap) {
  BufferLayout b({2, 1, 3});
  const size_t row = 8;
  std::vector<char> buf(b.total_bytes(row), 0);
  for (int p = 0; p < b.num_peers(); ++p) std::memset(b.slice(buf.data(), p, row), 'a' + p, size_t(b.counts[p]) * row);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), std::string(16, 'a') + std::string(8, 'b') + std::string(24, 'c'));
}

TEST(BufferLayout, EmptyAndNegative) {
  BufferLayout e({0, 0});
  EXPECT_EQ(e.total_rows, 0);
  EXPECT_EQ(e.total_bytes(100), 0u);
  EXPECT_THROW(BufferLayout({1, -1}), Error);
}

}  // namespace grace::engine
