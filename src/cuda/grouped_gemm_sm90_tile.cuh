// The sm_90a grouped GEMM's tile constants, its launch parameters and the consumer warpgroups'
// main loop (the MMAs of one tile); the kernel around them is grouped_gemm_sm90_kernel.cuh (see
// there for how it works). Included once, by that file, inside grouped_gemm_sm90.cu.
#ifndef GRACE_CUDA_GROUPED_GEMM_SM90_TILE_CUH_
#define GRACE_CUDA_GROUPED_GEMM_SM90_TILE_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/grouped_gemm_sm90_mma.h"

namespace grace::cuda::sm90 {
namespace {

constexpr int kBK = 64;                   // K per stage: one 128-byte swizzle span of bf16
constexpr int kBoxRows = 128;             // weight rows per TMA box (two boxes per tile)
constexpr int kThreads = 384;             // warpgroup 0 producer, 1-2 consumers
constexpr int kBoxBytes = kBoxRows * kBK * 2;  // 16 KB
constexpr int kABytes = 2 * kBoxBytes;
constexpr int kB32Bytes = 32 * kBK * 2;        // 32 token rows of one stage: 4 KB
constexpr int kMaxExperts = 256;
constexpr int kSlots = 4;                 // work items in flight between producer and consumers

// Token-tile width kTN: 128 (4 stages of 48 KB) or, sixth round, 192 (3 stages of 56 KB: the
// same prefetch depth in MMA time, a third less weight traffic per FLOP; 192 accumulator
// registers per consumer thread).
template <int kTN>
struct TileCfg {
  static_assert(kTN == 128 || kTN == 192, "token tile 128 or 192");
  static constexpr int kStages = kTN == 128 ? 4 : 3;
  static constexpr int kBBytes = kTN * kBK * 2;
  static constexpr int kStageBytes = kABytes + kBBytes;
  // 192: + the staged epilogue's areas (one per consumer warpgroup: kTN tokens x 64 features)
  static constexpr int kEpilogueBytes = kTN == 192 ? 2 * kTN * 128 : 0;
  static constexpr int kSmemBytes = kStages * kStageBytes + kEpilogueBytes + 1024;  // + alignment slack
};

struct Params {
  const int32_t* offsets;
  int num_experts;
  int k_tiles;          // K / 64
  int feat_tiles;       // output feature tiles per expert
  int expert_rows;      // weight rows per expert in the 2D weight map (2*inter or hidden)
  int box1_offset;      // row of box 1 relative to box 0 (inter for SwiGLU, 128 otherwise)
  int feat_step;        // weight rows advanced per feature tile (128 SwiGLU, 256 otherwise)
  __nv_bfloat16* out;
  int64_t ldo;
  unsigned* sched;      // dynamic schedule: [0] next item - grid, [1] CTAs done (zero between
                        // launches; the last CTA resets both); nullptr: static schedule
  const int32_t* order = nullptr;        // gathered input only: grouped row -> pair (pair / top_k = token)
  const __nv_bfloat16* gx = nullptr;     // token rows [tokens][ldx]
  int top_k = 1;
  int64_t ldx = 0;
  int tanh_silu = 0;                     // SwiGLU epilogue: silu through tanh.approx (1) or exp + rcp (0)
  int refine = 0;                        // dynamic only: narrow B loads, experts by rows (see Options)
  // Expert chain (sixth round, dynamic schedule only): the gate/up GEMM counts each consumer
  // warpgroup's finished item per expert in ready[e]; the down GEMM does not wait for the whole
  // gate/up grid but, per item, until its expert's count is complete (2 x the gate/up items of
  // the expert: dep_tn tokens per tile, dep_ft feature tiles), and its last CTA zeroes ready.
  unsigned* ready = nullptr;
  int dep_tn = 128;
  int dep_ft = 0;
  int staged = 0;  // 192-token tiles: epilogue through shared memory, 16-byte global stores
};

#ifdef GRACE_SM90A_DEVICE
// One tile's main loop for a consumer warpgroup: k_tiles stages of two m64nNk16 x 4 each, one
// k-tile's group kept in flight; frees each stage once the group after it was issued and the
// group reading it is done. Columns N.. of the accumulators are left as they were.
template <int N, bool kGather, int kTN>
__device__ __forceinline__ void mainloop(float* acc0, float* acc1, uint64_t* full_bar, uint64_t* empty_bar,
                                         uint32_t base, int cw, int lane, int k_tiles, int& stage,
                                         uint32_t& phase) {
  using C = TileCfg<kTN>;
  int prev = -1;  // stage whose wgmmas may still be reading shared memory
  for (int kt = 0; kt < k_tiles; ++kt) {
    mbar_wait(smem_addr(&full_bar[stage]), phase);
    if (kGather) fence_proxy_async();  // the B rows came through the generic proxy (cp.async)
    const uint32_t sa = base + stage * C::kStageBytes + cw * (64 * 128);
    const uint32_t sb = base + stage * C::kStageBytes + kABytes;
    wgmma_fence();
#pragma unroll
    for (int k = 0; k < kBK / 16; ++k) {
      const int scale = (kt > 0 || k > 0) ? 1 : 0;
      wgmma_m64nNk16<N>(acc0, smem_desc(sa + k * 32), smem_desc(sb + k * 32), scale);
      wgmma_m64nNk16<N>(acc1, smem_desc(sa + kBoxBytes + k * 32), smem_desc(sb + k * 32), scale);
    }
    wgmma_commit();
    // Keep this k-tile's group in flight; the previous one is done, so its stage is free.
    wgmma_wait1();
    if (prev >= 0 && lane == 0) mbar_arrive(smem_addr(&empty_bar[prev]));
    prev = stage;
    if (++stage == C::kStages) stage = 0, phase ^= 1;
  }
  wgmma_wait0();
  if (lane == 0) mbar_arrive(smem_addr(&empty_bar[prev]));
}
#endif

}  // namespace
}  // namespace grace::cuda::sm90

#endif  // GRACE_CUDA_GROUPED_GEMM_SM90_TILE_CUH_
