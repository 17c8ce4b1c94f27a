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

// counts[p] = offsets[p+1] - offsets[p] for p < n (one block).
void counts_from_offsets(const int32_t* offsets, int n, int64_t* counts, Stream stream);

void fill_f32(float* dst, int64_t n, float value, Stream stream);

}  // namespace grace::cuda

#endif  // GRACE_SRC_CUDA_GPU_ENGINE_KERNELS_H_
