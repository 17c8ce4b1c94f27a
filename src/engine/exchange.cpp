// Sparse all-to-all stages for dispatch and combine (see exchange.h).
#include "engine/exchange.h"

#include <algorithm>
#include <cstring>

#include "grace/error.h"

namespace grace::engine {

char* CommBuffer::reserve(size_t bytes) {
  if (bytes > capacity_) {
    comm_.free_buffer(data_);
    data_ = nullptr;
    capacity_ = std::max(bytes, capacity_ + capacity_ / 2);
    data_ = static_cast<char*>(comm_.alloc_buffer(capacity_));
  }
  return data_;
}

namespace {

void count_sent(const StageComm& sc, const BufferLayout& layout, size_t row_bytes, TierCounts& c) {
  const int me = sc.comm->rank();
  const int my_world = sc.world_rank_of(me);
  for (int p = 0; p < layout.num_peers(); ++p) {
    if (p == me || layout.counts[p] == 0) continue;
    const int w = sc.world_rank_of(p);
    const bool inter = w / sc.gpus_per_node != my_world / sc.gpus_per_node;
    (inter ? c.inter_rows : c.intra_rows) += layout.counts[p];
    (inter ? c.inter_bytes : c.intra_bytes) += layout.counts[p] * int64_t(row_bytes);
  }
}

void exchange(Comm& comm, const BufferLayout& send, const char* sbuf, const BufferLayout& recv, char* rbuf,
              size_t row_bytes) {
  const auto sc = send.byte_counts(row_bytes), so = send.byte_offsets(row_bytes);
  const auto rc = recv.byte_counts(row_bytes), ro = recv.byte_offsets(row_bytes);
  comm.alltoallv(sbuf, sc.data(), so.data(), rbuf, rc.data(), ro.data());
}

}  // namespace

void dispatch_stage(const StageComm& sc, const RowFormat& f, const char* in, int64_t n_in,
                    const std::function<int(int)>& peer_of, ExchangePlan& plan, CommBuffer& send_buf,
                    CommBuffer& recv_buf, TierCounts& counts) {
  Comm& comm = *sc.comm;
  const int peers = comm.size();
  const size_t rb = f.bytes();
  const int k = f.top_k;
  // Peer of every entry of every input row (-1: none), then one copy per distinct peer.
  std::vector<int> entry_peer(size_t(n_in) * k, -1);
  std::vector<int64_t> counts_out(peers, 0);
  for (int64_t i = 0; i < n_in; ++i) {
    const RouteEntry* e = f.entries_of(in + size_t(i) * rb);
    int* ep = &entry_peer[size_t(i) * k];
    for (int j = 0; j < k; ++j) {
      if (e[j].expert < 0) continue;
      ep[j] = peer_of(e[j].gpu);
      GRACE_CHECK(ep[j] >= -1 && ep[j] < peers, "peer {} out of range", ep[j]);
      if (ep[j] < 0) continue;
      bool first = true;
      for (int q = 0; q < j; ++q) first = first && ep[q] != ep[j];
      if (first) ++counts_out[ep[j]];
    }
  }
  plan.send = BufferLayout(std::move(counts_out));
  plan.send_src.assign(size_t(plan.send.total_rows), -1);
  char* sbuf = send_buf.reserve(plan.send.total_bytes(rb));
  std::vector<int64_t> cursor = plan.send.offsets;
  for (int64_t i = 0; i < n_in; ++i) {
    const char* row = in + size_t(i) * rb;
    const RouteEntry* e = f.entries_of(row);
    const int* ep = &entry_peer[size_t(i) * k];
    for (int j = 0; j < k; ++j) {
      if (ep[j] < 0) continue;
      bool first = true;
      for (int q = 0; q < j; ++q) first = first && ep[q] != ep[j];
      if (!first) continue;
      const int64_t r = cursor[ep[j]]++;
      char* out = sbuf + size_t(r) * rb;
      std::memcpy(out, row, size_t(f.hidden) * sizeof(float));
      RouteEntry* oe = f.entries_of(out);
      for (int q = 0; q < k; ++q) oe[q] = ep[q] == ep[j] ? e[q] : RouteEntry{};
      plan.send_src[size_t(r)] = i;
    }
  }
  std::vector<int64_t> recv_counts(peers, 0);
  comm.exchange_counts(plan.send.counts.data(), recv_counts.data());
  plan.recv = BufferLayout(std::move(recv_counts));
  char* rbuf = recv_buf.reserve(plan.recv.total_bytes(rb));
  exchange(comm, plan.send, sbuf, plan.recv, rbuf, rb);
  count_sent(sc, plan.send, rb, counts);
}

void combine_stage(const StageComm& sc, int64_t hidden, const float* results, const ExchangePlan& plan, int64_t n_in,
                   float* acc, CommBuffer& recv_buf, TierCounts& counts) {
  const size_t rb = size_t(hidden) * sizeof(float);
  // Results are already in recv order: send them back as they are (reverse layouts).
  char* rbuf = recv_buf.reserve(plan.send.total_bytes(rb));
  exchange(*sc.comm, plan.recv, reinterpret_cast<const char*>(results), plan.send, rbuf, rb);
  count_sent(sc, plan.recv, rb, counts);
  std::fill(acc, acc + size_t(n_in) * hidden, 0.0f);
  const float* back = reinterpret_cast<const float*>(rbuf);
  for (int64_t r = 0; r < plan.send.total_rows; ++r) {
    float* dst = acc + size_t(plan.send_src[size_t(r)]) * hidden;
    const float* src = back + size_t(r) * hidden;
    for (int64_t h = 0; h < hidden; ++h) dst[h] += src[h];
  }
}

}  // namespace grace::engine
