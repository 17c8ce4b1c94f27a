// ComputeBackend: runs the routed experts' SwiGLU FFNs for the expert instances one rank hosts.
// Implementations: CPU/OpenBLAS F32 (src/engine/compute_cpu.*) and CUDA (src/cuda, by the CUDA
// backend). No BLAS/CUDA headers here.
//
// The FFN of expert e at MoE layer l, on a row x of `hidden` values (Hugging Face layout,
// weights row-major):
//     gate_proj W_g [intermediate][hidden], up_proj W_u [intermediate][hidden],
//     down_proj W_d [hidden][intermediate]
//     y = W_d * ( silu(W_g x) .* (W_u x) ),   silu(z) = z / (1 + exp(-z))
// The gate weight and the residual are NOT applied here (the engine does that).
//
// Contract:
//   - configure(hidden, intermediate) once, before any load_expert.
//   - load_expert(layer, expert, w): copies (or converts) the three matrices; the caller's
//     memory may be freed afterwards. Called once per hosted instance; a replica of an expert
//     gets the same weights as its primary. Loading an (layer, expert) twice replaces it.
//   - run(layer, tasks, n): for each task, out[r][:] = FFN_{layer, task.expert}(in[r][:]) for
//     r < task.rows; in/out are packed row-major [rows][hidden] F32 host arrays (this version
//     of the engine keeps activations on the host; a device backend copies in and out).
//     Every task's expert must have been loaded; tasks' outputs do not overlap. The call is
//     complete (results visible) when it returns.
//   - memory_bytes(): bytes held for weights (reported by the engine).
// Thread safety: called from one thread per rank.
#ifndef GRACE_ENGINE_COMPUTE_H_
#define GRACE_ENGINE_COMPUTE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace grace::engine {

// One expert's weights, F32 row-major, shapes as above.
struct ExpertWeightsView {
  const float* gate = nullptr;  // [intermediate][hidden]
  const float* up = nullptr;    // [intermediate][hidden]
  const float* down = nullptr;  // [hidden][intermediate]
};

// One expert's work in a run() call.
struct ExpertTask {
  int expert = 0;
  int64_t rows = 0;
  const float* in = nullptr;  // [rows][hidden]
  float* out = nullptr;       // [rows][hidden]
};

class ComputeBackend {
 public:
  virtual ~ComputeBackend() = default;

  virtual std::string_view name() const = 0;  // "cpu", "cuda", ...
  virtual void configure(int64_t hidden, int64_t intermediate) = 0;
  virtual void load_expert(int layer, int expert, const ExpertWeightsView& w) = 0;
  virtual bool has_expert(int layer, int expert) const = 0;
  virtual void run(int layer, const ExpertTask* tasks, int num_tasks) = 0;
  virtual size_t memory_bytes() const = 0;
};

// The CPU backend (OpenBLAS cblas_sgemm, F32). Defined in src/engine.
std::unique_ptr<ComputeBackend> make_cpu_compute();

}  // namespace grace::engine

#endif  // GRACE_ENGINE_COMPUTE_H_
