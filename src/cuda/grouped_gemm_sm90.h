// Grouped expert GEMMs of our own for Hopper (sm_90a): TMA tile loads into 128-byte-swizzled
// shared memory, wgmma.mma_async from shared-memory descriptors, an mbarrier pipeline between
// one producer warp and two consumer warpgroups, and a persistent tile scheduler that reads the
// expert row offsets on the device (no host synchronisation; capturable in a CUDA graph).
//
// Rows are grouped by expert as in expert_ffn.h: rows offsets[e] .. offsets[e+1]-1 of the input
// go to expert e; offsets is a DEVICE array [num_experts + 1]. `capacity` is the number of rows
// allocated in the input and output buffers (>= offsets[num_experts]); rows past
// offsets[num_experts] are neither read into a result nor written.
//
// Built only when the compiler knows sm_90a (GRACE_HAVE_SM90A); available() also needs a
// compute-capability 9.0 GPU at run time. Internal header (src/cuda only).
#ifndef GRACE_SRC_CUDA_GROUPED_GEMM_SM90_H_
#define GRACE_SRC_CUDA_GROUPED_GEMM_SM90_H_

#include <cstdint>

#include "grace/cuda/device.h"

namespace grace::cuda::sm90 {

// A compute-capability 9.0 GPU is current and the sm_90a kernels are in this binary.
bool available();
// Shapes the kernels take: hidden % 256 == 0, inter % 128 == 0, 1 <= num_experts <= 256.
bool supports(int64_t hidden, int64_t inter, int num_experts);

// How a launch schedules its work and computes silu.
// sched: nullptr = static schedule (every tile 128 tokens wide); else 2 DEVICE counters, zero
// before the first launch and left zero by each launch, for the dynamic schedule (work items from
// the counter, an expert's partial token tile computed only to its rows rounded up to 32). Launches
// sharing a counter pair must not run at the same time (stream order, as within one ExpertFfn).
// refine (dynamic only; fifth round): a partial tile's input rows loaded only to that width, and
// the experts in the work list by rows, most first. tanh_silu (gate/up): silu(g) as h + h tanh(h),
// h = g/2, through tanh.approx; else exp + approximate reciprocal. tile_n (sixth round): tokens
// per tile, 128 (4 pipeline stages) or 192 (3 stages; gate_up_swiglu and down_proj only, the
// gathered GEMM always runs 128).
// ready (sixth round, with sched only): the expert chain, a DEVICE array [num_experts] of zeros
// shared by a gate/up launch and the down launch right after it on the same stream: gate/up
// counts finished work per expert in it, down starts each expert's items once that expert's act
// rows are complete instead of waiting for the whole gate/up grid, and leaves it zero.
// dep_tile_n: (down) the gate/up launch's tokens per tile. staged (192-token tiles only): the
// epilogue through shared memory with 16-byte global stores.
struct Options {
  unsigned* sched = nullptr;
  bool refine = true;
  bool tanh_silu = true;
  int tile_n = 128;
  unsigned* ready = nullptr;
  int dep_tile_n = 128;
  bool staged = false;
};

// act[r][c] = silu(x[r] . w13_e[c]) * (x[r] . w13_e[inter + c]) (F32 accumulate, SwiGLU in the
// epilogue). x [capacity][hidden], w13 [E][2*inter][hidden], act [capacity][inter].
void gate_up_swiglu(const bf16_t* x, int64_t capacity, const int32_t* offsets, int num_experts,
                    const bf16_t* w13, int64_t hidden, int64_t inter, bf16_t* act, const Options& o,
                    Stream stream);

// The same with the input rows gathered from the token rows: row r of the group is
// x[order[r] / top_k] (x [tokens][hidden], order a DEVICE array [capacity] as PairBuckets::order()
// fills it), so no grouped copy of x is needed. Same results as gate_up_swiglu on that copy.
void gate_up_swiglu_gather(const bf16_t* x, const int32_t* order, int top_k, int64_t capacity,
                           const int32_t* offsets, int num_experts, const bf16_t* w13, int64_t hidden,
                           int64_t inter, bf16_t* act, const Options& o, Stream stream);

// y[r][h] = act[r] . w2_e[h]. act [capacity][inter], w2 [E][hidden][inter], y [capacity][hidden].
void down_proj(const bf16_t* act, int64_t capacity, const int32_t* offsets, int num_experts,
               const bf16_t* w2, int64_t hidden, int64_t inter, bf16_t* y, const Options& o, Stream stream);

}  // namespace grace::cuda::sm90

#endif  // GRACE_SRC_CUDA_GROUPED_GEMM_SM90_H_
