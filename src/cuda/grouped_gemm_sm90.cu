// Grouped expert GEMMs for sm_90a (contract in grouped_gemm_sm90.h): the host side. The kernel
// and how it works are in grouped_gemm_sm90_kernel.cuh; here the TMA tensor maps (the driver's
// cuTensorMapEncodeTiled), the launch and the entry points.
#include <cuda.h>  // CUtensorMap and its enums only: the driver entry point comes from the runtime
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <mutex>

#include "cuda/cuda_check.h"
#include "cuda/grouped_gemm_sm90.h"
#include "cuda/grouped_gemm_sm90_kernel.cuh"

namespace grace::cuda::sm90 {
namespace {

// cuTensorMapEncodeTiled through the runtime's driver entry point (no -lcuda).
PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q{};
    GRACE_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q));
    GRACE_CUDA_REQUIRE(q == cudaDriverEntryPointSuccess && f, "driver has no cuTensorMapEncodeTiled");
    fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  });
  return fn;
}

// Row-major bf16 [rows][cols] as a 2D map with boxes of box_rows x 64, 128-byte swizzle;
// rows past the end read as zeros.
CUtensorMap make_map(const void* ptr, int64_t rows, int64_t cols, int box_rows) {
  GRACE_CUDA_REQUIRE(reinterpret_cast<uintptr_t>(ptr) % 16 == 0, "TMA operand not 16-byte aligned");
  CUtensorMap m;
  const cuuint64_t dims[2] = {cuuint64_t(cols), cuuint64_t(rows)};
  const cuuint64_t strides[1] = {cuuint64_t(cols) * 2};
  const cuuint32_t box[2] = {cuuint32_t(kBK), cuuint32_t(box_rows)};
  const cuuint32_t elem[2] = {1, 1};
  const CUresult r = encode_fn()(&m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void*>(ptr), dims, strides,
                                 box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                 CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  GRACE_CUDA_REQUIRE(r == CUDA_SUCCESS, "cuTensorMapEncodeTiled failed");
  return m;
}

int sm_count() {
  int dev = 0, n = 0;
  GRACE_CUDA_CHECK(cudaGetDevice(&dev));
  GRACE_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  return n;
}

// The shared-memory opt-in is a per-device attribute of the kernel: set it once on each device
// (a process driving two GPUs from two threads needs it on both; a once-per-process flag left the
// second GPU's launch failing). Setting it twice is harmless, so the race is benign. Launched as
// a programmatic dependent launch: the CTAs start as the previous kernel's CTAs leave their SMs
// (and its trigger fired), set up their barriers, then wait for it (griddepcontrol.wait).
template <bool kSwiglu, bool kGather, int kTN>
void launch(const CUtensorMap& mw, const CUtensorMap& mx, const CUtensorMap& mx32, const Params& p,
            Stream stream) {
  static std::atomic<uint64_t> done{0};
  int dev = 0;
  GRACE_CUDA_CHECK(cudaGetDevice(&dev));
  const uint64_t bit = dev >= 0 && dev < 64 ? uint64_t(1) << dev : 0;
  if (bit == 0 || !(done.load(std::memory_order_acquire) & bit)) {
    GRACE_CUDA_CHECK(cudaFuncSetAttribute(grouped_gemm_kernel<kSwiglu, kGather, kTN>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, TileCfg<kTN>::kSmemBytes));
    done.fetch_or(bit, std::memory_order_release);
  }
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(unsigned(sm_count()));
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = TileCfg<kTN>::kSmemBytes;
  cfg.stream = static_cast<cudaStream_t>(stream);
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  GRACE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, grouped_gemm_kernel<kSwiglu, kGather, kTN>, mw, mx, mx32, p));
  GRACE_CUDA_CHECK_LAUNCH();
}

// The token-tile width the options ask for (128 unless 192).
int tile_n(const Options& o) { return o.tile_n == 192 ? 192 : 128; }

}  // namespace

bool available() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
    return false;
  return major == 9 && minor == 0;
}

bool supports(int64_t hidden, int64_t inter, int num_experts) {
  return hidden % 256 == 0 && inter % 128 == 0 && hidden > 0 && inter > 0 && num_experts >= 1 &&
         num_experts <= kMaxExperts && int64_t(num_experts) * 2 * inter < (int64_t(1) << 31) &&
         int64_t(num_experts) * hidden < (int64_t(1) << 31);
}

void gate_up_swiglu(const bf16_t* x, int64_t capacity, const int32_t* offsets, int num_experts,
                    const bf16_t* w13, int64_t hidden, int64_t inter, bf16_t* act, const Options& o,
                    Stream stream) {
  GRACE_CUDA_REQUIRE(supports(hidden, inter, num_experts), "shape not supported by the sm_90a GEMM");
  if (capacity <= 0) return;
  const CUtensorMap mw = make_map(w13, int64_t(num_experts) * 2 * inter, hidden, kBoxRows);
  const int tn = tile_n(o);
  const CUtensorMap mx = make_map(x, capacity, hidden, tn), mx32 = make_map(x, capacity, hidden, 32);
  Params p{offsets, num_experts, int(hidden / kBK), int(inter / 128), int(2 * inter), int(inter), 128,
           reinterpret_cast<__nv_bfloat16*>(act), inter, o.sched};
  p.tanh_silu = o.tanh_silu ? 1 : 0;
  p.refine = o.refine ? 1 : 0;
  p.ready = o.sched ? o.ready : nullptr;
  p.staged = o.staged && tn == 192 ? 1 : 0;
  if (tn == 192) launch<true, false, 192>(mw, mx, mx32, p, stream);
  else launch<true, false, 128>(mw, mx, mx32, p, stream);
}

void gate_up_swiglu_gather(const bf16_t* x, const int32_t* order, int top_k, int64_t capacity,
                           const int32_t* offsets, int num_experts, const bf16_t* w13, int64_t hidden,
                           int64_t inter, bf16_t* act, const Options& o, Stream stream) {
  GRACE_CUDA_REQUIRE(supports(hidden, inter, num_experts), "shape not supported by the sm_90a GEMM");
  GRACE_CUDA_REQUIRE(top_k > 0 && order && reinterpret_cast<uintptr_t>(x) % 16 == 0, "bad gathered GEMM input");
  if (capacity <= 0) return;
  const CUtensorMap mw = make_map(w13, int64_t(num_experts) * 2 * inter, hidden, kBoxRows);
  Params p{offsets, num_experts, int(hidden / kBK), int(inter / 128), int(2 * inter), int(inter), 128,
           reinterpret_cast<__nv_bfloat16*>(act), inter, o.sched};
  p.order = order;
  p.gx = reinterpret_cast<const __nv_bfloat16*>(x);
  p.top_k = top_k;
  p.ldx = hidden;
  p.tanh_silu = o.tanh_silu ? 1 : 0;
  p.refine = o.refine ? 1 : 0;
  p.ready = o.sched ? o.ready : nullptr;
  launch<true, true, 128>(mw, mw, mw, p, stream);  // no B maps: the rows are gathered (128-token tiles only)
}

void down_proj(const bf16_t* act, int64_t capacity, const int32_t* offsets, int num_experts,
               const bf16_t* w2, int64_t hidden, int64_t inter, bf16_t* y, const Options& o, Stream stream) {
  GRACE_CUDA_REQUIRE(supports(hidden, inter, num_experts), "shape not supported by the sm_90a GEMM");
  if (capacity <= 0) return;
  const CUtensorMap mw = make_map(w2, int64_t(num_experts) * hidden, inter, kBoxRows);
  const int tn = tile_n(o);
  const CUtensorMap mx = make_map(act, capacity, inter, tn), mx32 = make_map(act, capacity, inter, 32);
  Params p{offsets, num_experts, int(inter / kBK), int(hidden / 256), int(hidden), 128, 256,
           reinterpret_cast<__nv_bfloat16*>(y), hidden, o.sched};
  p.refine = o.refine ? 1 : 0;
  p.ready = o.sched ? o.ready : nullptr;
  p.dep_tn = o.dep_tile_n;
  p.dep_ft = int(inter / 128);
  p.staged = o.staged && tn == 192 ? 1 : 0;
  if (tn == 192) launch<false, false, 192>(mw, mx, mx32, p, stream);
  else launch<false, false, 128>(mw, mx, mx32, p, stream);
}

}  // namespace grace::cuda::sm90
