// The routed experts' SwiGLU FFN on the GPU, for all local experts at once, BF16 in and out
// with F32 accumulation.
//
// Weights (Hugging Face layout, row-major, one block per local expert e, back to back):
//   w13 [E][2 * inter][hidden]   rows 0..inter-1 are gate_proj, rows inter..2*inter-1 up_proj
//   w2  [E][hidden][inter]       down_proj
// Input rows are grouped by expert: rows offsets[e] .. offsets[e+1]-1 of x go to expert e
// (offsets on the host: cuBLAS takes group sizes from host memory, so the caller brings the
// bucket counts back once per layer). y[r] = W2_e (silu(Wg_e x[r]) * (Wu_e x[r])).
//
// GEMM paths: kGrouped is one cublasGemmGroupedBatchedEx call per projection (all experts in
// one launch); kStreams is one cublasGemmEx per expert spread round-robin over a few streams;
// kCublas takes kStreams when experts average >= kAutoStreamsRows rows, else kGrouped (measured
// on H200: the grouped call wins at small batches, per-expert GEMMs at large ones; docs/gpu.md).
// kWgmma is our own Hopper kernel pair (src/cuda/grouped_gemm_sm90.cu: TMA + wgmma, persistent
// scheduler over device-side offsets, SwiGLU fused into the gate/up epilogue); it needs an
// sm_90 GPU, a build with sm_90a code and hidden % 256 == 0, inter % 128 == 0, <= 256 experts
// (wgmma_supported()); otherwise that path runs kGrouped. kAuto (the default) is kWgmma where
// it is supported (faster at every size measured, docs/gpu.md), else kCublas.
// run_experts() always uses cuBLAS (kAuto and kWgmma by kCublas's / kGrouped's rule).
#ifndef GRACE_CUDA_EXPERT_FFN_H_
#define GRACE_CUDA_EXPERT_FFN_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "grace/cuda/device.h"

namespace grace::cuda {

enum class GemmPath { kGrouped, kStreams, kAuto, kWgmma, kCublas };
constexpr int64_t kAutoStreamsRows = 320;
GemmPath parse_gemm_path(std::string_view name);  // "grouped" | "streams" | "auto" | "wgmma" | "cublas"
const char* gemm_path_name(GemmPath p);

// Work scheduling inside the kWgmma kernels, process-wide (a benchmark / test knob): kDynamic
// (the default; work items from a device counter, an expert's partial token tile computed and,
// since the fifth round, loaded only to its rows rounded up to 32, experts in the work list by
// rows, most first), kDynamic4 (the fourth round's dynamic schedule: experts in index order,
// every tile's input rows loaded whole) or kStatic (the third round's: CTA b takes items b,
// b + grid, ...; every tile 128 tokens). Read at each launch.
enum class WgmmaSchedule { kDynamic, kStatic, kDynamic4 };
void set_wgmma_schedule(WgmmaSchedule s);
WgmmaSchedule wgmma_schedule();

// Where LocalMoeLayer's wgmma path takes the gate/up GEMM's input rows, process-wide (a benchmark
// / test knob, read at each forward): kScatter (the default) copies them into expert order first
// (bucket + scatter, TMA tile loads in the GEMM); kGather (fifth round) loads them from the token
// rows through the bucket order inside the GEMM (no scatter pass, no grouped copy; measured
// level with kScatter on the whole layer: the scatter it saves is paid back in a slower GEMM).
enum class WgmmaInput { kGather, kScatter };
void set_wgmma_input(WgmmaInput in);
WgmmaInput wgmma_input();

// How the wgmma gate/up epilogue computes silu, process-wide (a benchmark / test knob, read at
// each launch): kTanh (the default since the fifth round) h + h * tanh(h), h = g / 2, one
// tanh.approx; kExp g / (1 + exp(-g)) with exp2.approx and the approximate reciprocal.
enum class WgmmaSilu { kTanh, kExp };
void set_wgmma_silu(WgmmaSilu s);
WgmmaSilu wgmma_silu();

// Token-tile width of the wgmma GEMMs, process-wide (a benchmark / test knob, read at each
// launch; sixth round; default kAuto): k128 (256 weight rows x 128 tokens per tile, 4 pipeline
// stages; the default before the sixth round) or 192
// tokens (3 stages; a third less weight traffic per FLOP) for both GEMMs, or for one of them
// (k192Up: gate/up only, k192Down: down only), or kAuto: 192 for both when the rows average at
// least 128 per expert (capacity / experts), else 128 (192 measured faster at 4,096 tokens and
// up, slower at 256: 3 stages hide less latency on narrow tiles). The gathered gate/up GEMM
// always runs 128.
enum class WgmmaTile { k128, k192, k192Up, k192Down, kAuto };
void set_wgmma_tile(WgmmaTile t);
WgmmaTile wgmma_tile();

// When the wgmma down GEMM starts an expert's work, process-wide (a benchmark / test knob, read
// at each launch; sixth round; dynamic schedules only): kAfterGateUp waits for the whole gate/up
// grid (programmatic dependent launch; the default before the sixth round); kPerExpert (the
// default) starts as soon as that expert's gate/up work is stored (per-expert counters the
// gate/up GEMM releases), overlapping gate/up's last items.
enum class WgmmaDownStart { kAfterGateUp, kPerExpert };
void set_wgmma_down_start(WgmmaDownStart d);
WgmmaDownStart wgmma_down_start();

// How the wgmma GEMMs with 192-token tiles store their results, process-wide (a benchmark / test
// knob, read at each launch; sixth round): kDirect from registers, 4-byte stores of feature pairs
// (the only form before); kStaged (the default) through shared memory (stmatrix), 16-byte
// coalesced stores (measured 4-5% faster FFN at 4,096 tokens and up). Bit-identical.
enum class WgmmaEpilogue { kDirect, kStaged };
void set_wgmma_epilogue(WgmmaEpilogue e);
WgmmaEpilogue wgmma_epilogue();

// act[r][c] = silu(h[r][c]) * h[r][inter + c] for h [rows][2*inter]; inter % 8 == 0.
void swiglu(const bf16_t* h, int64_t rows, int64_t inter, bf16_t* act, Stream stream = nullptr);

class ExpertFfn {
 public:
  ExpertFfn(int64_t hidden, int64_t inter, GemmPath path = GemmPath::kAuto, int num_streams = 4);
  ~ExpertFfn();
  ExpertFfn(const ExpertFfn&) = delete;
  ExpertFfn& operator=(const ExpertFfn&) = delete;

  // offsets: host [num_experts + 1]. x, y: device [offsets[E]][hidden]; y may not alias x.
  void run(const bf16_t* x, const int32_t* offsets, int num_experts, const bf16_t* w13,
           const bf16_t* w2, bf16_t* y, Stream stream = nullptr);

  // Same with one weight pointer per expert (host arrays of device pointers, [num_experts]).
  void run_experts(const bf16_t* x, const int32_t* offsets, int num_experts,
                   const bf16_t* const* w13, const bf16_t* const* w2, bf16_t* y,
                   Stream stream = nullptr);

  // The kWgmma path with device-side offsets [num_experts + 1]: no host synchronisation, so
  // capturable in a CUDA graph. x, y: device [capacity][hidden], capacity >= offsets[E]; rows
  // past offsets[E] of y are not written. Requires uses_device_offsets(num_experts).
  void run_device(const bf16_t* x, int64_t capacity, const int32_t* offsets, int num_experts,
                  const bf16_t* w13, const bf16_t* w2, bf16_t* y, Stream stream = nullptr);
  // run_device with the input rows gathered: row r of the group is x[order[r] / top_k] (x
  // [tokens][hidden]; order: device [capacity], PairBuckets::order()). Same results as run_device
  // on the gathered copy. Requires uses_device_offsets(num_experts).
  void run_device_gather(const bf16_t* x, const int32_t* order, int top_k, int64_t capacity,
                         const int32_t* offsets, int num_experts, const bf16_t* w13, const bf16_t* w2,
                         bf16_t* y, Stream stream = nullptr);
  // This object takes the kWgmma path (asked for, or kAuto) for num_experts experts on the
  // current GPU.
  bool uses_device_offsets(int num_experts) const;
  // The sm_90a kernels run here for this shape (GPU, build and shape checks).
  static bool wgmma_supported(int64_t hidden, int64_t inter, int num_experts);

  int64_t hidden() const { return hidden_; }
  int64_t inter() const { return inter_; }
  GemmPath path() const { return path_; }

  // Plain dense GEMM pair on one weight block with the same row count: the reference the
  // grouped GEMMs are judged against in the benchmark (rows x hidden -> 2*inter -> hidden).
  void run_dense(const bf16_t* x, int64_t rows, const bf16_t* w13, const bf16_t* w2, bf16_t* y,
                 Stream stream = nullptr);

 private:
  void run_wgmma(const bf16_t* x, const int32_t* order, int top_k, int64_t capacity, const int32_t* offsets,
                 int num_experts, const bf16_t* w13, const bf16_t* w2, bf16_t* y, Stream stream);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t hidden_, inter_;
  GemmPath path_;
};

}  // namespace grace::cuda

#endif  // GRACE_CUDA_EXPERT_FFN_H_
