// A2aStage (contract in a2a_stage.h): one all-to-all of the GPU-resident engine, dispatch without
// a count exchange (capacity messages with a header + overflow), combine in received order.
#ifdef GRACE_HAVE_NCCL

#include "cuda/a2a_stage.h"

#include <algorithm>
#include <string>

#include "cuda/cuda_check.h"
#include "grace/error.h"

namespace grace::cuda {

namespace {
constexpr int64_t kHeader = 16;  // {int64 units, int64 tag}
int64_t round16(int64_t b) { return (b + 15) / 16 * 16; }
}  // namespace

void A2aStage::init(ncclComm_t comm, int size, int me, std::vector<bool> inter, StagePeers sp, int top_k,
                    int64_t hidden) {
  comm_ = comm;
  size_ = size;
  me_ = me;
  inter_ = std::move(inter);
  sp_ = sp;
  k_ = top_k;
  H_ = hidden;
}

void A2aStage::account(const std::vector<int64_t>& cnt, int64_t row_bytes, bool combine,
                       GpuLayerStats& stats) const {
  for (int p = 0; p < size_; ++p) {
    if (p == me_ || cnt[p] == 0) continue;
    const bool inter = inter_[size_t(p)];
    (inter ? stats.rows_inter : stats.rows_intra) += cnt[p];
    (inter ? stats.bytes_inter : stats.bytes_intra) += cnt[p] * row_bytes;
    if (combine) {
      (inter ? stats.combine_rows_inter : stats.combine_rows_intra) += cnt[p];
      (inter ? stats.combine_bytes_inter : stats.combine_bytes_intra) += cnt[p] * row_bytes;
    }
  }
}

void A2aStage::reserve_recv(int64_t units) {
  const size_t mm = size_t(std::max<int64_t>(units, 1));
  recv_rows_.resize(mm * size_t(H_));
  recv_dest_.resize(mm * size_t(k_));
  recv_slot_.resize(mm * size_t(k_));
  recv_w_.resize(mm * size_t(k_));
}

void A2aStage::local_copy(int64_t c, cudaStream_t stream) {
  reserve_recv(c);
  if (c == 0) return;
  GRACE_CUDA_CHECK(cudaMemcpyAsync(recv_rows_.get(), send_rows_.get(), size_t(c * H_) * 2, cudaMemcpyDeviceToDevice, stream));
  GRACE_CUDA_CHECK(cudaMemcpyAsync(recv_dest_.get(), send_dest_.get(), size_t(c * k_) * 4, cudaMemcpyDeviceToDevice, stream));
  GRACE_CUDA_CHECK(cudaMemcpyAsync(recv_slot_.get(), send_slot_.get(), size_t(c * k_) * 4, cudaMemcpyDeviceToDevice, stream));
  GRACE_CUDA_CHECK(cudaMemcpyAsync(recv_w_.get(), send_w_.get(), size_t(c * k_) * 4, cudaMemcpyDeviceToDevice, stream));
}

void A2aStage::dispatch(int layer, const bf16_t* rows, int64_t n, const int32_t* d, const int32_t* sl, const float* w,
                        const int64_t* peer_tokens, cudaStream_t stream, GpuLayerStats& stats) {
  const int k = k_, S = size_;
  const int64_t H = H_;
  n_ = n;
  keys_.resize(size_t(std::max<int64_t>(n * k, 1)));
  unit_keys(d, n, k, sp_, keys_.get(), stream);
  buckets_.build(keys_.get(), n * k, S, stream);
  const size_t ucap = size_t(std::max<int64_t>(n * std::min(k, S), 1));  // units <= tokens x min(k, peers)
  send_rows_.resize(ucap * H);
  send_dest_.resize(ucap * k);
  send_slot_.resize(ucap * k);
  send_w_.resize(ucap * k);
  scatter_rows(rows, buckets_.position(), buckets_.offsets() + S, n, k, H, send_rows_.get(), stream);
  unit_meta(d, sl, w, keys_.get(), buckets_.position(), n, k, sp_, send_dest_.get(), send_slot_.get(), send_w_.get(),
            stream);
  send_cnt_.assign(S, 0);
  send_off_.assign(S + 1, 0);
  recv_cnt_.assign(S, 0);
  recv_off_.assign(S + 1, 0);
  if (S == 1) {  // a one-GPU communicator (hierarchical, 1 GPU per node): device copies
    std::vector<int32_t> off = buckets_.host_offsets(stream);
    units_ = m_ = off[1] - off[0];
    send_cnt_[0] = recv_cnt_[0] = units_;
    send_off_[1] = recv_off_[1] = units_;
    local_copy(units_, stream);
    return;
  }
  if (hist_send_.size() <= size_t(layer)) {
    hist_send_.resize(size_t(layer) + 1);
    hist_recv_.resize(size_t(layer) + 1);
  }
  std::vector<WireHistory>& hs = hist_send_[size_t(layer)];
  std::vector<WireHistory>& hr = hist_recv_[size_t(layer)];
  hs.resize(S);
  hr.resize(S);
  // Tokens behind each direction now: mine when I send, the peer's when it sends to me.
  const int64_t my_tokens = peer_tokens ? n : -1;
  std::vector<int64_t> cs(S), cr(S);
  for (int p = 0; p < S; ++p) {
    cs[p] = capacity_for(hs[p], my_tokens);
    cr[p] = capacity_for(hr[p], peer_tokens ? peer_tokens[p] : -1);
  }
  const int64_t rb = H * 2 + int64_t(k) * 12;  // one wire row
  // Host table: [0,S) send msg_off, [S,2S) send cap, [2S,3S) recv msg_off, [3S,4S) recv cap,
  // [4S,5S) recv overflow base, [5S,6S] recv unit offsets.
  std::vector<int64_t> tab(size_t(6 * S + 1), 0), msg_s(S, 0), msg_r(S, 0);
  int64_t total_s = 0, total_r = 0;
  for (int p = 0; p < S; ++p) {
    if (!linked(p)) {  // no unit can go either way: no message (offset -1)
      tab[p] = tab[2 * S + p] = -1;
      continue;
    }
    tab[p] = total_s;
    tab[S + p] = cs[p];
    msg_s[p] = kHeader + cs[p] * rb;
    total_s += round16(msg_s[p]);
    tab[2 * S + p] = total_r;
    tab[3 * S + p] = cr[p];
    msg_r[p] = kHeader + cr[p] * rb;
    total_r += round16(msg_r[p]);
  }
  table_.resize(tab.size());
  counts_.resize(size_t(3 * S));
  GRACE_CUDA_CHECK(cudaMemcpyAsync(table_.get(), tab.data(), size_t(4 * S) * 8, cudaMemcpyHostToDevice, stream));
  send_msgs_.resize(size_t(std::max<int64_t>(total_s, 16)));
  send_ovf_.resize(ucap * size_t(rb));
  recv_msgs_.resize(size_t(std::max<int64_t>(total_r, 16)));
  const int64_t tag = (int64_t(layer) << 1) | (sp_.map == StageMap::kLocal ? 1 : 0);
  WireTable ts{table_.get(), table_.get() + S, nullptr, nullptr};
  pack_wire(send_rows_.get(), send_dest_.get(), send_slot_.get(), send_w_.get(), buckets_.offsets(), ts, S, k, H, tag,
            send_msgs_.get(), send_ovf_.get(), stream);
  GRACE_NCCL_CHECK(ncclGroupStart());
  for (int p = 0; p < S; ++p) {
    if (!linked(p)) continue;
    GRACE_NCCL_CHECK(ncclSend(send_msgs_.get() + tab[p], size_t(msg_s[p]), ncclInt8, p, comm_, stream));
    GRACE_NCCL_CHECK(ncclRecv(recv_msgs_.get() + tab[2 * S + p], size_t(msg_r[p]), ncclInt8, p, comm_, stream));
  }
  GRACE_NCCL_CHECK(ncclGroupEnd());
  ++stats.exchanges;
  // The one host round trip: units sent (bucket offsets) and received (headers).
  wire_counts(buckets_.offsets(), recv_msgs_.get(), table_.get() + 2 * S, S, counts_.get(), stream);
  std::vector<int64_t> cnt(size_t(3 * S));
  GRACE_CUDA_CHECK(cudaMemcpyAsync(cnt.data(), counts_.get(), cnt.size() * 8, cudaMemcpyDeviceToHost, stream));
  GRACE_CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<int64_t> so(S, 0), ro(S, 0), obase_s(S, 0);
  int64_t ovf_s = 0, ovf_r = 0;
  for (int p = 0; p < S; ++p) {
    GRACE_CHECK(!linked(p) || cnt[2 * S + p] == tag, "GPU engine dispatch: the message from rank {} has tag {}, expected {} (ranks "
                "out of step)", p, cnt[2 * S + p], tag);
    send_cnt_[p] = cnt[p];
    recv_cnt_[p] = cnt[S + p];
    send_off_[p + 1] = send_off_[p] + send_cnt_[p];
    recv_off_[p + 1] = recv_off_[p] + recv_cnt_[p];
    so[p] = std::max<int64_t>(0, send_cnt_[p] - cs[p]);
    ro[p] = std::max<int64_t>(0, recv_cnt_[p] - cr[p]);
    obase_s[p] = ovf_s;
    tab[4 * S + p] = ovf_r;
    ovf_s += so[p];
    ovf_r += ro[p];
  }
  for (int p = 0; p <= S; ++p) tab[5 * S + p] = recv_off_[p];
  units_ = send_off_[S];
  m_ = recv_off_[S];
  if (ovf_s > 0 || ovf_r > 0) {  // the units past the capacities; both ends know which pairs overflowed
    recv_ovf_.resize(size_t(std::max<int64_t>(ovf_r, 1)) * size_t(rb));
    GRACE_NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < S; ++p) {
      if (so[p] > 0)
        GRACE_NCCL_CHECK(ncclSend(send_ovf_.get() + obase_s[p] * rb, size_t(so[p] * rb), ncclInt8, p, comm_, stream));
      if (ro[p] > 0)
        GRACE_NCCL_CHECK(ncclRecv(recv_ovf_.get() + tab[4 * S + p] * rb, size_t(ro[p] * rb), ncclInt8, p, comm_, stream));
    }
    GRACE_NCCL_CHECK(ncclGroupEnd());
    ++stats.exchanges;
    ++stats.overflow_exchanges;
  }
  reserve_recv(m_);
  GRACE_CUDA_CHECK(cudaMemcpyAsync(table_.get() + 4 * S, tab.data() + 4 * S, size_t(2 * S + 1) * 8,
                                   cudaMemcpyHostToDevice, stream));
  WireTable tr{table_.get() + 2 * S, table_.get() + 3 * S, table_.get() + 4 * S, table_.get() + 5 * S};
  unpack_wire(recv_msgs_.get(), recv_ovf_.get(), tr, S, k, H, m_, recv_rows_.get(), recv_dest_.get(),
              recv_slot_.get(), recv_w_.get(), stream);
  for (int p = 0; p < S; ++p) {
    if (p != me_) (inter_[size_t(p)] ? stats.wire_bytes_inter : stats.wire_bytes_intra) += msg_s[p] + so[p] * rb;
    hs[p] = WireHistory{send_cnt_[p], my_tokens};
    hr[p] = WireHistory{recv_cnt_[p], peer_tokens ? peer_tokens[p] : -1};
  }
  account(send_cnt_, rb, /*combine=*/false, stats);
}

void A2aStage::combine(const bf16_t* partial_rows, bf16_t* out, cudaStream_t stream, GpuLayerStats& stats) {
  const int k = k_;
  const int64_t H = H_;
  ret_rows_.resize(size_t(std::max<int64_t>(units_, 1)) * H);
  if (size_ == 1) {
    if (units_ > 0)
      GRACE_CUDA_CHECK(cudaMemcpyAsync(ret_rows_.get(), partial_rows, size_t(units_ * H) * 2, cudaMemcpyDeviceToDevice,
                                       stream));
  } else {
    GRACE_NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < size_; ++p) {
      if (const int64_t c = recv_cnt_[p]; c > 0)
        GRACE_NCCL_CHECK(ncclSend(partial_rows + recv_off_[p] * H, size_t(c * H) * 2, ncclInt8, p, comm_, stream));
      if (const int64_t c = send_cnt_[p]; c > 0)
        GRACE_NCCL_CHECK(ncclRecv(ret_rows_.get() + send_off_[p] * H, size_t(c * H) * 2, ncclInt8, p, comm_, stream));
    }
    GRACE_NCCL_CHECK(ncclGroupEnd());
    ++stats.exchanges;
    for (int p = 0; p < size_; ++p)
      if (p != me_) (inter_[size_t(p)] ? stats.wire_bytes_inter : stats.wire_bytes_intra) += recv_cnt_[p] * H * 2;
  }
  account(recv_cnt_, H * 2, /*combine=*/true, stats);
  if (n_ == 0) return;
  const size_t pairs = size_t(n_) * k;
  if (ones_filled_ < pairs) {
    ones_.resize(pairs);
    fill_f32(ones_.get(), int64_t(pairs), 1.0f, stream);
    ones_filled_ = pairs;
  }
  combine_rows(ret_rows_.get(), buckets_.position(), ones_.get(), buckets_.offsets() + size_, n_, k, H, out, stream);
}

}  // namespace grace::cuda

#endif  // GRACE_HAVE_NCCL
