// The NCCL Comm with two ranks (two GPUs, or two emulated hosts sharing one: two_ranks.h):
// counts, alltoallv from pinned host buffers, all-reduces, barrier and split. Skips without a GPU
// or without NCCL.
#include "grace/cuda/nccl_comm.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "cuda/gpu_test_util.h"
#include "cuda/two_ranks.h"

namespace grace::cuda {
namespace {

std::vector<double> rank_body(int rank, int device, const NcclId& id) {
  {
    auto comm = make_nccl_comm(id, rank, 2, device);
    const int peer = 1 - rank;
    if (comm->rank() != rank || comm->size() != 2) throw std::runtime_error("bad rank/size");
    // Rank r sends 100*(r+1)+p bytes to p.
    int64_t sc[2], rc[2], so[2], ro[2];
    for (int p = 0; p < 2; ++p) sc[p] = 100 * (rank + 1) + p;
    comm->exchange_counts(sc, rc);
    for (int p = 0; p < 2; ++p)
      if (rc[p] != 100 * (p + 1) + rank) throw std::runtime_error("exchange_counts wrong");
    so[0] = 0, so[1] = sc[0];
    ro[0] = 0, ro[1] = rc[0];
    auto* send = static_cast<unsigned char*>(comm->alloc_buffer(sc[0] + sc[1]));
    auto* recv = static_cast<unsigned char*>(comm->alloc_buffer(rc[0] + rc[1]));
    for (int p = 0; p < 2; ++p)
      for (int64_t i = 0; i < sc[p]; ++i) send[so[p] + i] = (unsigned char)(rank * 50 + p * 7 + i);
    comm->alltoallv(send, sc, so, recv, rc, ro);
    for (int p = 0; p < 2; ++p)
      for (int64_t i = 0; i < rc[p]; ++i)
        if (recv[ro[p] + i] != (unsigned char)(p * 50 + rank * 7 + i)) throw std::runtime_error("alltoallv data wrong");
    comm->free_buffer(send);
    comm->free_buffer(recv);
    double d[2] = {1.5 * (rank + 1), -double(rank)};
    comm->allreduce_sum(d, 2);
    if (d[0] != 4.5 || d[1] != -1.0) throw std::runtime_error("allreduce_sum wrong");
    int64_t m = 10 + rank;
    comm->allreduce_max(&m, 1);
    if (m != 11) throw std::runtime_error("allreduce_max wrong");
    comm->barrier();
    // Per-node communicators of 2 emulated nodes x 1 GPU: each alone.
    auto node = comm->split(rank, 0);
    if (node->size() != 1 || node->rank() != 0) throw std::runtime_error("split wrong");
    (void)peer;
  }
  return {};
}

TEST(CudaNccl, TwoRanksExchangeAndReduce) {
  if (const std::string why = testing::two_ranks_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const auto out = testing::run_two_ranks(rank_body);
  for (int r = 0; r < 2; ++r) EXPECT_EQ(out[r].error, "") << "rank " << r << "\n" << out[r].log;
}

}  // namespace
}  // namespace grace::cuda
