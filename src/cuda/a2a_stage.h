// A2aStage: one all-to-all stage of the GPU-resident engine (src/cuda/gpu_engine.cpp) over one
// NCCL communicator; flat = one world stage, hierarchical = a world stage (per node) + a node
// stage. Only built with NCCL.
//
// dispatch(): unit keys (one wire row per (token, peer)) -> stable bucket sort by peer ->
// scatter rows + per-unit metadata -> pack_wire into one message per peer -> ONE grouped
// ncclSend/ncclRecv -> the headers' unit counts to the host (the one host round trip) ->
// unpack. There is no count exchange before the rows: each message has a capacity that both
// ends know without asking, a function of the units that went over the same (layer, stage,
// direction) last time (capacity_for, cuda/wire_capacity.h). The header says how many units the message really
// holds; the units past the capacity (and only those) follow in a second grouped exchange,
// which both ends know they need once the headers are in. So a layer makes one exchange per
// stage and direction when the units fit (the padding up to the capacity crosses the wire), two
// when some peer overflows (always on a layer's first call: the capacity starts at 0). Pairs
// that can never exchange a unit (hierarchical stage 1: peers of another local rank) send
// nothing.
// combine(): partial rows go back in received order (sizes known from the dispatch: one
// exchange) and are summed per input row with combine_rows (weights 1; gate weights were
// applied by the expert GPU).
#ifndef GRACE_SRC_CUDA_A2A_STAGE_H_
#define GRACE_SRC_CUDA_A2A_STAGE_H_

#ifdef GRACE_HAVE_NCCL

#include <nccl.h>

#include <cstdint>
#include <vector>

#include "cuda/gpu_engine_kernels.h"
#include "cuda/wire_capacity.h"
#include "grace/cuda/device.h"
#include "grace/cuda/gpu_engine.h"
#include "grace/cuda/permute.h"

namespace grace::cuda {

class A2aStage {
 public:
  // inter[p]: peer p is on another node (its traffic counts as inter-node).
  void init(ncclComm_t comm, int size, int me, std::vector<bool> inter, StagePeers sp, int top_k, int64_t hidden);

  // rows [n][H] with pair metadata d/sl/w [n*k] -> recv_rows()/recv_dest()/... (m() units).
  // `layer` picks the capacities; peer_tokens (host, one per peer of this communicator, or
  // null) the tokens each peer dispatches now, the same on every rank. stats get rows, bytes,
  // wire bytes and exchanges.
  void dispatch(int layer, const bf16_t* rows, int64_t n, const int32_t* d, const int32_t* sl, const float* w,
                const int64_t* peer_tokens, cudaStream_t stream, GpuLayerStats& stats);
  // partial [m()][H] in received order -> out [n][H] (sum over the units of each row).
  void combine(const bf16_t* partial_rows, bf16_t* out, cudaStream_t stream, GpuLayerStats& stats);

  int64_t m() const { return m_; }
  bf16_t* recv_rows() { return recv_rows_.get(); }
  int32_t* recv_dest() { return recv_dest_.get(); }
  int32_t* recv_slot() { return recv_slot_.get(); }
  float* recv_w() { return recv_w_.get(); }

 private:
  void local_copy(int64_t units, cudaStream_t stream);  // a one-GPU communicator
  void reserve_recv(int64_t units);                      // room for units received rows + metadata
  // Whether units can go between this GPU and peer p at all: in the per-node world stage of
  // hierarchical only peers with this GPU's local rank exchange (the others get no message).
  bool linked(int p) const { return sp_.map != StageMap::kNode || p % sp_.gpn == sp_.my_local; }
  void account(const std::vector<int64_t>& cnt, int64_t row_bytes, bool combine, GpuLayerStats& stats) const;

  ncclComm_t comm_ = nullptr;
  int size_ = 1, me_ = 0, k_ = 1;
  int64_t H_ = 0;
  std::vector<bool> inter_;
  StagePeers sp_;
  int64_t n_ = 0, units_ = 0, m_ = 0;
  std::vector<int64_t> send_cnt_, send_off_, recv_cnt_, recv_off_;
  std::vector<std::vector<WireHistory>> hist_send_, hist_recv_;  // [layer][peer]
  PairBuckets buckets_;
  DeviceBuffer<int32_t> keys_, send_dest_, send_slot_, recv_dest_, recv_slot_;
  DeviceBuffer<float> send_w_, recv_w_, ones_;
  DeviceBuffer<bf16_t> send_rows_, recv_rows_, ret_rows_;
  DeviceBuffer<unsigned char> send_msgs_, send_ovf_, recv_msgs_, recv_ovf_;
  DeviceBuffer<int64_t> table_, counts_;
  size_t ones_filled_ = 0;
};

}  // namespace grace::cuda

#endif  // GRACE_HAVE_NCCL
#endif  // GRACE_SRC_CUDA_A2A_STAGE_H_
