// The engine's GPU-resident backend (grace/engine/backend.h) over GpuMoeEngine: `grace run
// --backend cuda`. Hidden states stay on the GPU (BF16) for the whole batch; per MoE layer the
// routing kernel (primary | tar, bit-identical to the CPU routers; every other router routes the
// whole batch on the host, engine::route_whole_batch), NCCL all-to-all of BF16 rows
// (flat or hierarchical), grouped expert GEMMs, combine + residual. Expert (and gate) weights
// come from the engine's WeightSource, converted to BF16 (the gate stays F32). Gate routing runs
// the gate kernel (grace/cuda/gate.h) on this rank's hidden states.
#ifndef GRACE_CUDA_GPU_BACKEND_H_
#define GRACE_CUDA_GPU_BACKEND_H_

#include <memory>

#include "grace/engine/backend.h"

namespace grace::cuda {

// Collective over `world` (it bootstraps the engine's own NCCL communicators). InputError when
// hidden/intermediate are not multiples of 8. route_seed must be the seed the CPU Router was
// made with (the tar hash).
std::unique_ptr<engine::MoeBackend> make_cuda_backend(engine::Comm& world, const engine::EngineInputs& in,
                                                      const engine::EngineOptions& opt, int device,
                                                      uint64_t route_seed);

}  // namespace grace::cuda

#endif  // GRACE_CUDA_GPU_BACKEND_H_
