// Small kernels of the GPU-resident engine (src/cuda/gpu_engine.cpp): unit keys (one wire row
// per (token, peer)), per-unit metadata, local expert keys, residual add. All asynchronous.
//
// Peer of a destination GPU g for a stage: kFlat g; kNode (g / gpn) * gpn + my_local (the GPU of
// g's node with this GPU's local rank, world comm); kLocal g % gpn (node comm rank). dest < 0
// means "not for this stage".
#ifndef GRACE_SRC_CUDA_GPU_ENGINE_KERNELS_H_
#define GRACE_SRC_CUDA_GPU_ENGINE_KERNELS_H_

#include <cstdint>

#include "grace/cuda/device.h"

namespace grace::cuda {

enum class StageMap : int { kFlat = 0, kNode = 1, kLocal = 2 };
struct StagePeers {
  StageMap map = StageMap::kFlat;
  int gpn = 1, my_local = 0, size = 1;
};

// keys[t*k+j] = peer of dest[t*k+j] if no earlier j' of token t has the same peer, else size
// (also size when dest < 0).
void unit_keys(const int32_t* dest, int64_t tokens, int top_k, StagePeers sp, int32_t* keys,
               Stream stream);

// For each unit (pair p with keys[p] < size, at sorted position position[p]): the k pairs of
// its token, out_dest[pos*k+j] = dest (or -1 when it is not for that peer), out_slot, out_w.
void unit_meta(const int32_t* dest, const int32_t* slot, const float* w, const int32_t* keys,
               const int32_t* position, int64_t tokens, int top_k, StagePeers sp,
               int32_t* out_dest, int32_t* out_slot, float* out_w, Stream stream);

// keys[q] = dest[q] == me ? slot[q] - slot_base : num_local.
void local_keys(const int32_t* dest, const int32_t* slot, int64_t n, int me, int slot_base,
                int num_local, int32_t* keys, Stream stream);

// out[i] = x[i] + out[i] (bf16, f32 math).
void add_residual(const bf16_t* x, int64_t n, bf16_t* out, Stream stream);

// The dispatch wire (src/cuda/a2a_stage.cpp). A message to peer p is a 16-byte header
// {int64 units, int64 tag} and then up to cap[p] wire rows of `row_bytes` (multiple of 4): the
// unit's BF16 hidden row, its k destination GPUs, k flat slots and k gate weights. Message p
// starts at byte msg_off[p] (16-aligned) of `msgs`; msg_off[p] < 0: no message (no unit
// can go to or come from p). Units past cap[p] go to `ovf`, peer by
// peer: peer p's first overflow unit is at row sum_{q<p} max(0, units_q - cap_q).
struct WireTable {  // device arrays, `size` entries each (recv_off: size + 1)
  const int64_t* msg_off = nullptr;
  const int64_t* cap = nullptr;
  const int64_t* ovf_base = nullptr;  // unpack only (pack derives it from the offsets)
  const int64_t* recv_off = nullptr;  // unpack only: first received unit of each peer
};

// Packs units [0, offsets[size]) (peer p owns [offsets[p], offsets[p+1])) from rows [units][H]
// and dest/slot/w [units][k] into messages + overflow, and writes every header {units_p, tag}.
void pack_wire(const bf16_t* rows, const int32_t* dest, const int32_t* slot, const float* w, const int32_t* offsets,
               WireTable t, int size, int top_k, int64_t hidden, int64_t tag, unsigned char* msgs,
               unsigned char* ovf, Stream stream);

// The received units [0, m) in peer order back into rows [m][H] and dest/slot/w [m][k].
void unpack_wire(const unsigned char* msgs, const unsigned char* ovf, WireTable t, int size, int top_k,
                 int64_t hidden, int64_t m, bf16_t* rows, int32_t* dest, int32_t* slot, float* w, Stream stream);

// counts[p] = offsets[p+1] - offsets[p] (sent units), counts[size + p] and counts[2*size + p] =
// the units and tag of the header received from p (at recv_msgs + recv_msg_off[p]).
void wire_counts(const int32_t* offsets, const unsigned char* recv_msgs, const int64_t* recv_msg_off, int size,
                 int64_t* counts, Stream stream);

void fill_f32(float* dst, int64_t n, float value, Stream stream);

}  // namespace grace::cuda

#endif  // GRACE_SRC_CUDA_GPU_ENGINE_KERNELS_H_
