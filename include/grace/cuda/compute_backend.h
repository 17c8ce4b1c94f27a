// The CUDA ComputeBackend of the engine (contract in grace/engine/compute.h): expert weights
// live on the GPU in BF16 (converted from the F32 the engine loads), run() copies the tasks'
// F32 host rows in, runs every task's expert in one ExpertFfn call (grouped or per-expert
// cuBLAS GEMMs + fused SwiGLU, F32 accumulation) and copies the F32 results back.
#ifndef GRACE_CUDA_COMPUTE_BACKEND_H_
#define GRACE_CUDA_COMPUTE_BACKEND_H_

#include <memory>

#include "grace/engine/compute.h"

namespace grace::cuda {

// Uses CUDA device `device` (the engine's local rank on a node). Throws grace::Error when the
// device cannot be used.
std::unique_ptr<engine::ComputeBackend> make_cuda_compute(int device = 0);

}  // namespace grace::cuda

#endif  // GRACE_CUDA_COMPUTE_BACKEND_H_
