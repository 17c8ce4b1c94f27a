// ExpertFfn over cuBLAS (contract in grace/cuda/expert_ffn.h).
//
// Column-major view of the row-major tensors: x_e is [hidden, n_e] (ld hidden), w13_e is
// [hidden, 2*inter] (ld hidden, used transposed), so h_e^T = w13_e^T x_e^T lands row-major
// [n_e][2*inter]; the down projection is the same with w2_e [inter, hidden] (ld inter).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <atomic>
#include <vector>

#include "cuda/cuda_check.h"
#include "grace/error.h"
#include "grace/cuda/expert_ffn.h"
#ifdef GRACE_HAVE_SM90A
#include "cuda/grouped_gemm_sm90.h"
#endif

#define GRACE_CUBLAS_CHECK(call)                                                               \
  do {                                                                                         \
    cublasStatus_t st_ = (call);                                                               \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                          \
      ::grace::fail_internal(__FILE__, __LINE__, #call, cublasGetStatusString(st_));           \
  } while (0)

namespace grace::cuda {

GemmPath parse_gemm_path(std::string_view name) {
  if (name == "grouped") return GemmPath::kGrouped;
  if (name == "streams") return GemmPath::kStreams;
  if (name == "auto") return GemmPath::kAuto;
  if (name == "wgmma") return GemmPath::kWgmma;
  if (name == "cublas") return GemmPath::kCublas;
  fail_input("GEMM path '{}' is not one of: grouped, streams, auto, wgmma, cublas", name);
}
const char* gemm_path_name(GemmPath p) {
  return p == GemmPath::kGrouped ? "grouped" : p == GemmPath::kStreams ? "streams"
       : p == GemmPath::kWgmma   ? "wgmma"   : p == GemmPath::kCublas ? "cublas" : "auto";
}

struct ExpertFfn::Impl {
  cublasHandle_t main = nullptr;
  std::vector<cublasHandle_t> side_handles;
  std::vector<cudaStream_t> side;
  std::vector<cudaEvent_t> side_done;
  cudaEvent_t fork = nullptr;
  DeviceBuffer<bf16_t> h, act;
  DeviceBuffer<const void*> ptrs;  // grouped path: A, B, C pointer arrays of both GEMMs
  DeviceBuffer<int32_t> offsets;   // wgmma path called with host offsets
  DeviceBuffer<unsigned char> workspace;
  DeviceBuffer<unsigned> sched;    // wgmma dynamic schedule: two counters per GEMM, kept zero between launches

  ~Impl() {
    for (auto hd : side_handles) cublasDestroy(hd);
    for (auto s : side) cudaStreamDestroy(s);
    for (auto e : side_done) cudaEventDestroy(e);
    if (fork) cudaEventDestroy(fork);
    if (main) cublasDestroy(main);
  }

  void gemm(cublasHandle_t hd, cudaStream_t s, int m, int n, int k, const void* A, int lda,
            const void* B, int ldb, void* C, int ldc) {
    const float one = 1.0f, zero = 0.0f;
    GRACE_CUBLAS_CHECK(cublasSetStream(hd, s));
    GRACE_CUBLAS_CHECK(cublasGemmEx(hd, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, A, CUDA_R_16BF, lda,
                                    B, CUDA_R_16BF, ldb, &zero, C, CUDA_R_16BF, ldc,
                                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
};

namespace {
std::atomic<int> g_wgmma_schedule{int(WgmmaSchedule::kDynamic)};
std::atomic<int> g_wgmma_input{int(WgmmaInput::kScatter)};
std::atomic<int> g_wgmma_silu{int(WgmmaSilu::kTanh)};
std::atomic<int> g_wgmma_tile{int(WgmmaTile::kAuto)};
std::atomic<int> g_wgmma_down_start{int(WgmmaDownStart::kPerExpert)};
std::atomic<int> g_wgmma_epilogue{int(WgmmaEpilogue::kStaged)};
constexpr int kSchedWords = 4 + 256;  // 2 counters per GEMM, then the expert chain's counters (<= 256 experts)
}  // namespace

void set_wgmma_epilogue(WgmmaEpilogue e) { g_wgmma_epilogue.store(int(e), std::memory_order_relaxed); }
WgmmaEpilogue wgmma_epilogue() { return WgmmaEpilogue(g_wgmma_epilogue.load(std::memory_order_relaxed)); }

void set_wgmma_down_start(WgmmaDownStart d) { g_wgmma_down_start.store(int(d), std::memory_order_relaxed); }
WgmmaDownStart wgmma_down_start() { return WgmmaDownStart(g_wgmma_down_start.load(std::memory_order_relaxed)); }

void set_wgmma_tile(WgmmaTile t) { g_wgmma_tile.store(int(t), std::memory_order_relaxed); }
WgmmaTile wgmma_tile() { return WgmmaTile(g_wgmma_tile.load(std::memory_order_relaxed)); }

void set_wgmma_silu(WgmmaSilu s) { g_wgmma_silu.store(int(s), std::memory_order_relaxed); }
WgmmaSilu wgmma_silu() { return WgmmaSilu(g_wgmma_silu.load(std::memory_order_relaxed)); }

void set_wgmma_input(WgmmaInput in) { g_wgmma_input.store(int(in), std::memory_order_relaxed); }
WgmmaInput wgmma_input() { return WgmmaInput(g_wgmma_input.load(std::memory_order_relaxed)); }

void set_wgmma_schedule(WgmmaSchedule s) { g_wgmma_schedule.store(int(s), std::memory_order_relaxed); }
WgmmaSchedule wgmma_schedule() { return WgmmaSchedule(g_wgmma_schedule.load(std::memory_order_relaxed)); }

ExpertFfn::ExpertFfn(int64_t hidden, int64_t inter, GemmPath path, int num_streams)
    : impl_(std::make_unique<Impl>()), hidden_(hidden), inter_(inter), path_(path) {
  GRACE_CHECK(hidden % 8 == 0 && inter % 8 == 0, "hidden {} / inter {} must be multiples of 8", hidden, inter);
  GRACE_CUBLAS_CHECK(cublasCreate(&impl_->main));
  if (path == GemmPath::kStreams || path == GemmPath::kAuto || path == GemmPath::kCublas) {
    GRACE_CUDA_CHECK(cudaEventCreateWithFlags(&impl_->fork, cudaEventDisableTiming));
    for (int i = 0; i < num_streams; ++i) {
      cudaStream_t s;
      cudaEvent_t e;
      cublasHandle_t hd;
      GRACE_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      GRACE_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      GRACE_CUBLAS_CHECK(cublasCreate(&hd));
      impl_->side.push_back(s);
      impl_->side_done.push_back(e);
      impl_->side_handles.push_back(hd);
    }
  }
}

ExpertFfn::~ExpertFfn() = default;

bool ExpertFfn::wgmma_supported(int64_t hidden, int64_t inter, int num_experts) {
#ifdef GRACE_HAVE_SM90A
  return sm90::supports(hidden, inter, num_experts) && sm90::available();
#else
  (void)hidden, (void)inter, (void)num_experts;
  return false;
#endif
}

bool ExpertFfn::uses_device_offsets(int num_experts) const {
  return (path_ == GemmPath::kWgmma || path_ == GemmPath::kAuto) && wgmma_supported(hidden_, inter_, num_experts);
}

void ExpertFfn::run_device(const bf16_t* x, int64_t capacity, const int32_t* offsets, int num_experts,
                           const bf16_t* w13, const bf16_t* w2, bf16_t* y, Stream stream) {
  run_wgmma(x, nullptr, 1, capacity, offsets, num_experts, w13, w2, y, stream);
}

void ExpertFfn::run_device_gather(const bf16_t* x, const int32_t* order, int top_k, int64_t capacity,
                                  const int32_t* offsets, int num_experts, const bf16_t* w13, const bf16_t* w2,
                                  bf16_t* y, Stream stream) {
  GRACE_CHECK(order && top_k > 0, "gathered expert FFN needs the bucket order and top_k > 0 (top_k {})", top_k);
  run_wgmma(x, order, top_k, capacity, offsets, num_experts, w13, w2, y, stream);
}

void ExpertFfn::run_wgmma(const bf16_t* x, const int32_t* order, int top_k, int64_t capacity,
                          const int32_t* offsets, int num_experts, const bf16_t* w13, const bf16_t* w2,
                          bf16_t* y, Stream stream) {
  GRACE_CHECK(uses_device_offsets(num_experts),
              "the wgmma expert GEMM does not run here (needs an sm_90 GPU, an sm_90a build, hidden % 256 == 0, "
              "inter % 128 == 0, <= 256 experts; hidden {}, inter {}, {} experts)", hidden_, inter_, num_experts);
#ifdef GRACE_HAVE_SM90A
  if (capacity <= 0) return;
  impl_->act.resize(size_t(capacity) * inter_);
  sm90::Options o;
  o.tanh_silu = wgmma_silu() == WgmmaSilu::kTanh;
  o.refine = wgmma_schedule() == WgmmaSchedule::kDynamic;
  o.staged = wgmma_epilogue() == WgmmaEpilogue::kStaged;
  WgmmaTile tile = wgmma_tile();
  if (tile == WgmmaTile::kAuto) tile = capacity >= 128 * int64_t(num_experts) ? WgmmaTile::k192 : WgmmaTile::k128;
  o.tile_n = tile == WgmmaTile::k192 || tile == WgmmaTile::k192Up ? 192 : 128;
  if (wgmma_schedule() != WgmmaSchedule::kStatic) {
    if (impl_->sched.size() < size_t(kSchedWords)) {  // first use: zeroed once (synchronous copy); each launch leaves them zero
      const std::vector<unsigned> zero(kSchedWords, 0u);
      impl_->sched.upload(zero.data(), zero.size());
    }
    o.sched = impl_->sched.get();
    if (wgmma_down_start() == WgmmaDownStart::kPerExpert) o.ready = impl_->sched.get() + 4;
  }
  if (order)
    sm90::gate_up_swiglu_gather(x, order, top_k, capacity, offsets, num_experts, w13, hidden_, inter_,
                                impl_->act.get(), o, stream);
  else
    sm90::gate_up_swiglu(x, capacity, offsets, num_experts, w13, hidden_, inter_, impl_->act.get(), o, stream);
  sm90::Options od = o;
  od.sched = o.sched ? o.sched + 2 : nullptr;
  od.tile_n = tile == WgmmaTile::k192 || tile == WgmmaTile::k192Down ? 192 : 128;
  od.dep_tile_n = order ? 128 : o.tile_n;  // the gathered gate/up GEMM runs 128-token tiles
  sm90::down_proj(impl_->act.get(), capacity, offsets, num_experts, w2, hidden_, inter_, y, od,
                  stream);
#else
  (void)x, (void)order, (void)top_k, (void)offsets, (void)w13, (void)w2, (void)y, (void)stream;
#endif
}

void ExpertFfn::run(const bf16_t* x, const int32_t* offsets, int num_experts, const bf16_t* w13,
                    const bf16_t* w2, bf16_t* y, Stream stream) {
  if (uses_device_offsets(num_experts)) {
    impl_->offsets.resize(size_t(num_experts) + 1);
    GRACE_CUDA_CHECK(cudaMemcpyAsync(impl_->offsets.get(), offsets, (size_t(num_experts) + 1) * sizeof(int32_t),
                                     cudaMemcpyHostToDevice, stream));
    run_device(x, offsets[num_experts], impl_->offsets.get(), num_experts, w13, w2, y, stream);
    return;
  }
  std::vector<const bf16_t*> p13(num_experts), p2(num_experts);
  for (int e = 0; e < num_experts; ++e) {
    p13[e] = w13 + size_t(e) * 2 * inter_ * hidden_;
    p2[e] = w2 + size_t(e) * hidden_ * inter_;
  }
  run_experts(x, offsets, num_experts, p13.data(), p2.data(), y, stream);
}

void ExpertFfn::run_experts(const bf16_t* x, const int32_t* offsets, int num_experts,
                            const bf16_t* const* w13, const bf16_t* const* w2, bf16_t* y,
                            Stream stream) {
  Impl& m = *impl_;
  const int64_t rows = offsets[num_experts];
  if (rows == 0) return;
  const int64_t H = hidden_, I = inter_;
  m.h.resize(size_t(rows) * 2 * I);
  m.act.resize(size_t(rows) * I);
  std::vector<int> active;
  for (int e = 0; e < num_experts; ++e)
    if (offsets[e + 1] > offsets[e]) active.push_back(e);
  const int G = int(active.size());
  auto xe = [&](int e) { return x + size_t(offsets[e]) * H; };
  auto he = [&](int e) { return m.h.get() + size_t(offsets[e]) * 2 * I; };
  auto ae = [&](int e) { return m.act.get() + size_t(offsets[e]) * I; };
  auto ye = [&](int e) { return y + size_t(offsets[e]) * H; };
  auto w13e = [&](int e) { return w13[e]; };
  auto w2e = [&](int e) { return w2[e]; };

  const bool grouped = path_ == GemmPath::kGrouped || path_ == GemmPath::kWgmma ||
                       ((path_ == GemmPath::kAuto || path_ == GemmPath::kCublas) && rows < kAutoStreamsRows * G);
  if (grouped) {
    // Pointer arrays of both GEMMs, uploaded once: [A1 B1 C1 A2 B2 C2] x G.
    std::vector<const void*> p(size_t(6) * G);
    std::vector<int> m1(G, int(2 * I)), n(G), k1(G, int(H)), lda1(G, int(H)), ldb1(G, int(H)),
        ldc1(G, int(2 * I)), m2(G, int(H)), k2(G, int(I)), lda2(G, int(I)), ldb2(G, int(I)),
        ldc2(G, int(H)), sizes(G, 1);
    std::vector<float> alpha(G, 1.0f), beta(G, 0.0f);
    std::vector<cublasOperation_t> ta(G, CUBLAS_OP_T), tb(G, CUBLAS_OP_N);
    for (int g = 0; g < G; ++g) {
      const int e = active[g];
      n[g] = offsets[e + 1] - offsets[e];
      p[g] = w13e(e);
      p[G + g] = xe(e);
      p[2 * G + g] = he(e);
      p[3 * G + g] = w2e(e);
      p[4 * G + g] = ae(e);
      p[5 * G + g] = ye(e);
    }
    m.ptrs.resize(p.size());
    GRACE_CUDA_CHECK(cudaMemcpyAsync(m.ptrs.get(), p.data(), p.size() * sizeof(void*),
                                     cudaMemcpyHostToDevice, stream));
    const void* const* d = m.ptrs.get();
    GRACE_CUBLAS_CHECK(cublasSetStream(m.main, stream));
    GRACE_CUBLAS_CHECK(cublasGemmGroupedBatchedEx(
        m.main, ta.data(), tb.data(), m1.data(), n.data(), k1.data(), alpha.data(), d, CUDA_R_16BF,
        lda1.data(), d + G, CUDA_R_16BF, ldb1.data(), beta.data(), const_cast<void* const*>(d + 2 * G),
        CUDA_R_16BF, ldc1.data(), G, sizes.data(), CUBLAS_COMPUTE_32F));
    swiglu(m.h.get(), rows, I, m.act.get(), stream);
    GRACE_CUBLAS_CHECK(cublasGemmGroupedBatchedEx(
        m.main, ta.data(), tb.data(), m2.data(), n.data(), k2.data(), alpha.data(), d + 3 * G,
        CUDA_R_16BF, lda2.data(), d + 4 * G, CUDA_R_16BF, ldb2.data(), beta.data(),
        const_cast<void* const*>(d + 5 * G), CUDA_R_16BF, ldc2.data(), G, sizes.data(),
        CUBLAS_COMPUTE_32F));
    // The host arrays above must outlive the calls' reads of them: cuBLAS reads host-side
    // arrays before returning, so nothing more to keep.
    return;
  }

  // Streams path: fork, per-expert GEMMs round-robin, join; twice around the activation.
  const int S = int(m.side.size());
  auto fork_join = [&](auto&& body) {
    GRACE_CUDA_CHECK(cudaEventRecord(m.fork, stream));
    for (int s = 0; s < S; ++s) GRACE_CUDA_CHECK(cudaStreamWaitEvent(m.side[s], m.fork, 0));
    for (int g = 0; g < G; ++g) body(active[g], g % S);
    for (int s = 0; s < S; ++s) {
      GRACE_CUDA_CHECK(cudaEventRecord(m.side_done[s], m.side[s]));
      GRACE_CUDA_CHECK(cudaStreamWaitEvent(stream, m.side_done[s], 0));
    }
  };
  fork_join([&](int e, int s) {
    const int ne = offsets[e + 1] - offsets[e];
    m.gemm(m.side_handles[s], m.side[s], int(2 * I), ne, int(H), w13e(e), int(H), xe(e), int(H), he(e), int(2 * I));
  });
  swiglu(m.h.get(), rows, I, m.act.get(), stream);
  fork_join([&](int e, int s) {
    const int ne = offsets[e + 1] - offsets[e];
    m.gemm(m.side_handles[s], m.side[s], int(H), ne, int(I), w2e(e), int(I), ae(e), int(I), ye(e), int(H));
  });
}

void ExpertFfn::run_dense(const bf16_t* x, int64_t rows, const bf16_t* w13, const bf16_t* w2,
                          bf16_t* y, Stream stream) {
  Impl& m = *impl_;
  if (rows == 0) return;
  const int64_t H = hidden_, I = inter_;
  m.h.resize(size_t(rows) * 2 * I);
  m.act.resize(size_t(rows) * I);
  m.gemm(m.main, stream, int(2 * I), int(rows), int(H), w13, int(H), x, int(H), m.h.get(), int(2 * I));
  swiglu(m.h.get(), rows, I, m.act.get(), stream);
  m.gemm(m.main, stream, int(H), int(rows), int(I), w2, int(I), m.act.get(), int(I), y, int(H));
}

}  // namespace grace::cuda
