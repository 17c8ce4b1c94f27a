// The sm_90a grouped-GEMM kernel: tile constants, parameters, the consumer main loop and the
// kernel. Included once, by grouped_gemm_sm90.cu (its launch and tensor maps), so its names stay
// in that translation unit's anonymous namespace.
//
// Grouped expert GEMMs for sm_90a (contract in grouped_gemm_sm90.h), written from the PTX ISA
// (wgmma.mma_async, cp.async.bulk.tensor, mbarrier) and the driver's cuTensorMapEncodeTiled.
//
// One kernel, two epilogues. A tile is 256 weight rows x 128 tokens, K in steps of 64:
//   A (weights, M side)  two TMA boxes of 128 rows x 64 bf16, K-major, 128-byte swizzle
//   B (tokens, N side)   one TMA box of 128 rows x 64 bf16 of the grouped input
// so every operand is K-major and both are read straight from the row-major tensors. Putting
// the weights on the M side keeps a tile full at small batches (an expert's few tokens are the
// N side) and puts gate and up rows of the same feature in the same thread (SwiGLU in registers).
// Warpgroup 0's first thread issues the TMA loads into a 4-stage ring (full/empty mbarriers);
// warpgroups 1 and 2 each own 64 rows of both boxes (two m64n128 accumulators) and write their
// results straight from registers. The grid is one CTA per SM; each walks the (expert, token
// tile, feature tile) work list whose length it derives from the device offsets.
// Two schedules (Params::sched): static (the third round's: CTA b takes items b, b + grid, ...,
// every tile N = 128) and dynamic (fourth round: the producer thread takes the next item from a
// device counter and hands it to the consumers through a small mbarrier ring, and an expert's
// last, partial token tile runs wgmma m64nN with N = its rows rounded up to 32, so padding rows
// cost no tensor-core time and the CTAs finish within one item of each other; since the fifth
// round that tile's B rows are also loaded only to N, in TMA boxes of 32 rows).
// Gathered input (fifth round, gate/up only): instead of TMA boxes of a grouped copy of the
// rows, the whole warpgroup 0 loads each B tile's token rows straight from x [tokens][hidden]
// through the bucket order (row r of the group = x[order[r] / top_k]) with 16-byte cp.async into
// the same 128-byte-swizzled layout; each thread's copies arrive on the stage's full barrier when
// they land (cp.async.mbarrier.arrive.noinc; the weights still come by TMA on the same barrier),
// and the consumers fence the stage to the async proxy before their wgmmas read it. So the layer
// needs no scatter pass and no grouped copy of x. (A first version waited for its own copies two
// stages later and fenced them in the producer: 24% slower GEMM; see docs/gpu.md, fifth round.)
// Sixth round: the token tile is a template parameter kTN, 128 (4 stages) or 192 (3 stages of
// 56 KB, m64n192 MMAs and 192 accumulator registers per consumer thread; a third less weight
// traffic per FLOP), constants in grouped_gemm_sm90_tile.cuh; their epilogue can go through a
// shared-memory area per consumer warpgroup (Params::staged: stmatrix, then 16-byte stores; the
// 48 KB fit next to 3 stages, not next to 4 of the 128-token tiles). Expert chain (Params::ready): the
// gate/up consumers release a per-expert count after each item's stores, and the down GEMM's
// producer, instead of griddepcontrol.wait on the whole gate/up grid, acquires its expert's
// count before its first TMA read of that expert's act rows (fence.proxy.async.global between).
#ifndef GRACE_CUDA_GROUPED_GEMM_SM90_KERNEL_CUH_
#define GRACE_CUDA_GROUPED_GEMM_SM90_KERNEL_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "cuda/grouped_gemm_sm90.h"
#include "cuda/grouped_gemm_sm90_mma.h"
#include "cuda/grouped_gemm_sm90_tile.cuh"

namespace grace::cuda::sm90 {
namespace {

template <bool kSwiglu, bool kGather, int kTN>
__global__ void __launch_bounds__(kThreads, 1)
    grouped_gemm_kernel(const __grid_constant__ CUtensorMap map_w, const __grid_constant__ CUtensorMap map_x,
                        const __grid_constant__ CUtensorMap map_x32,
                        const Params p) {
#ifdef GRACE_SM90A_DEVICE
  static_assert(!kGather || kTN == 128, "the gathered producer fills 128-row tiles");
  using C = TileCfg<kTN>;
  constexpr int kStages = C::kStages, kStageBytes = C::kStageBytes, kBN = kTN;
  extern __shared__ unsigned char smem_raw[];
  __shared__ __align__(8) uint64_t full_bar[kStages], empty_bar[kStages];
  __shared__ __align__(8) uint64_t item_full[kSlots], item_empty[kSlots];
  __shared__ int offs[kMaxExperts + 1], tile_start[kMaxExperts + 1], eord[kMaxExperts], item_slot[kSlots];

  // The chained down GEMM reads only what kernels before the gate/up GEMM wrote (offsets, weights;
  // complete once every gate/up CTA passed its own wait, which precedes its launch_dependents) and
  // the gate/up output, through ready[] below.
  if (kSwiglu || !p.ready) grid_dep_wait();
  grid_dep_launch();
  const int tid = threadIdx.x;
  const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const int E = p.num_experts;
  for (int e = tid; e <= E; e += kThreads) offs[e] = p.offsets[e];
  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      mbar_init(smem_addr(&full_bar[s]), kGather ? 1 + 128 : 1);  // gathered: + one per producer thread
      mbar_init(smem_addr(&empty_bar[s]), 8);  // one arrival per consumer warp
    }
    for (int s = 0; s < kSlots; ++s) {
      mbar_init(smem_addr(&item_full[s]), 1);
      mbar_init(smem_addr(&item_empty[s]), 8);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  // Order of the experts in the work list (eord[q] = the q-th expert): index order (static
  // schedule), or by rows, most first (dynamic: the last items handed out are the smallest
  // experts' narrow tiles, so the CTAs run out of work closer together). Each expert's items
  // stay together either way (its weight tiles are reused from L2 across its token tiles).
  for (int e = tid; e < E; e += kThreads) {
    int q = e;
    if (p.sched && p.refine) {
      const int n = offs[e + 1] - offs[e];
      q = 0;
      for (int j = 0; j < E; ++j) {
        const int m = offs[j + 1] - offs[j];
        q += m > n || (m == n && j < e);
      }
    }
    eord[q] = e;
  }
  __syncthreads();
  if (tid < 32) {  // token tiles per expert in eord's order, exclusive scan by warp 0 (lane: a run)
    const int per = (E + 31) / 32, e0 = min(E, tid * per), e1 = min(E, e0 + per);
    int sum = 0;
    for (int q = e0; q < e1; ++q) sum += (offs[eord[q] + 1] - offs[eord[q]] + kBN - 1) / kBN;
    int incl = sum;
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const int v = __shfl_up_sync(0xffffffffu, incl, d);
      if (tid >= d) incl += v;
    }
    int run = incl - sum;
    for (int q = e0; q < e1; ++q) {
      tile_start[q] = run;
      run += (offs[eord[q] + 1] - offs[eord[q]] + kBN - 1) / kBN;
    }
    if (tid == 31) tile_start[E] = incl;
  }
  __syncthreads();
  const int total = tile_start[E] * p.feat_tiles;

  // Work item -> expert, first grouped row, valid rows, feature tile.
  auto decode = [&](int item, int& e, int& row0, int& valid, int& f) {
    const int tile = item / p.feat_tiles;
    f = item - tile * p.feat_tiles;
    int lo = 0, hi = E - 1;  // last q with tile_start[q] <= tile (empty experts share starts)
    while (lo < hi) {
      const int mid = (lo + hi + 1) >> 1;
      if (tile_start[mid] <= tile) lo = mid;
      else hi = mid - 1;
    }
    e = eord[lo];
    row0 = offs[e] + (tile - tile_start[lo]) * kBN;
    valid = min(kBN, offs[e + 1] - row0);
  };

  const int wg = tid / 128;
  if constexpr (kGather) if (wg == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 56;");
    // Thread t copies 16-byte chunk t % 8 of rows t / 8 + 16 i (i < 8) of each B tile: 8 lanes
    // read one 128-byte row span, a warp 4 rows per instruction. Swizzle: chunk ^ (row % 8).
    const int rsub = tid >> 3, chunk = tid & 7;
    const uint32_t boff = uint32_t(rsub * 128 + ((chunk ^ (rsub & 7)) << 4));
    int stage = 0;
    uint32_t phase = 0;
    for (int seq = 0;; ++seq) {
      const int slot = seq % kSlots;
      if (tid == 0) {
        int item = blockIdx.x + seq * gridDim.x;
        if (p.sched && seq > 0) item = int(gridDim.x + atomicAdd(&p.sched[0], 1u));
        mbar_wait(smem_addr(&item_empty[slot]), ((seq / kSlots) & 1) ^ 1);
        item_slot[slot] = item < total ? item : -1;
        mbar_arrive(smem_addr(&item_full[slot]));
      }
      named_bar_sync(128);  // item_slot[slot] is rewritten only kSlots items later, after 3 more of these
      const int item = item_slot[slot];
      if (item < 0) break;
      int e, row0, valid, f;
      decode(item, e, row0, valid, f);
      // The thread's chunk of each of its rows' token row; rows past the tile's read as zeros.
      const __nv_bfloat16* src[8];
      unsigned live = 0;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int r = rsub + 16 * i;
        const bool on = r < valid;
        src[i] = p.gx + (on ? int64_t(p.order[row0 + r] / p.top_k) * p.ldx + chunk * 8 : 0);
        live |= on ? 1u << i : 0u;
      }
      const int w0 = e * p.expert_rows + f * p.feat_step;
      for (int kt = 0; kt < p.k_tiles; ++kt) {
        const uint32_t fb = smem_addr(&full_bar[stage]);
        mbar_wait(smem_addr(&empty_bar[stage]), phase ^ 1);
        const uint32_t sa = base + stage * kStageBytes;
        if (tid == 0) {
          mbar_expect_tx(fb, kABytes);
          tma_load_2d(&map_w, fb, sa, kt * kBK, w0);
          tma_load_2d(&map_w, fb, sa + kBoxBytes, kt * kBK, w0 + p.box1_offset);
        }
        const uint32_t sb = sa + kABytes + boff;
#pragma unroll
        for (int i = 0; i < 8; ++i)
          cp_async_16(sb + i * 2048, (live >> i) & 1 ? src[i] + kt * kBK : p.gx, (live >> i) & 1 ? 16u : 0u);
        cp_async_arrive(fb);
        if (++stage == kStages) stage = 0, phase ^= 1;
      }
    }
    cp_async_wait_all();
    if (tid == 0 && p.sched) {  // as below
      __threadfence();
      if (atomicAdd(&p.sched[1], 1u) == gridDim.x - 1) {
        atomicExch(&p.sched[0], 0u);
        atomicExch(&p.sched[1], 0u);
      }
    }
    return;
  }
  if (wg == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;");
    if (tid == 0) {
      int stage = 0, ready_e = -1;
      uint32_t phase = 0;
      for (int seq = 0;; ++seq) {
        int item = blockIdx.x + seq * gridDim.x;  // static; dynamic: first item static, then the counter
        if (p.sched && seq > 0) item = int(gridDim.x + atomicAdd(&p.sched[0], 1u));
        const int slot = seq % kSlots;
        mbar_wait(smem_addr(&item_empty[slot]), ((seq / kSlots) & 1) ^ 1);
        item_slot[slot] = item < total ? item : -1;
        mbar_arrive(smem_addr(&item_full[slot]));
        if (item >= total) break;
        int e, row0, valid, f;
        decode(item, e, row0, valid, f);
        if (!kSwiglu && p.ready && e != ready_e) {  // chained down GEMM: this expert's act rows written?
          const int rows = offs[e + 1] - offs[e];
          const unsigned need = 2u * unsigned((rows + p.dep_tn - 1) / p.dep_tn) * unsigned(p.dep_ft);
          while (ld_acquire_gpu(&p.ready[e]) < need) __nanosleep(32);
          fence_proxy_async_global();  // generic-proxy writes (other SMs' stores) before these TMA reads
          ready_e = e;
        }
        const int w0 = e * p.expert_rows + f * p.feat_step;
        // B rows the MMAs read: all 128 (one box), or (dynamic schedule, partial tile) the rows
        // rounded up to 32 in boxes of 32 (same swizzled layout: each box starts at a 1024-byte
        // multiple), so a partial tile's padding rows cost no L2 traffic either.
        constexpr int kFull = kTN / 32;
        const int nq = p.sched && p.refine ? (valid + 31) / 32 : kFull;
        for (int kt = 0; kt < p.k_tiles; ++kt) {
          const uint32_t fb = smem_addr(&full_bar[stage]);
          mbar_wait(smem_addr(&empty_bar[stage]), phase ^ 1);
          mbar_expect_tx(fb, kABytes + nq * kB32Bytes);
          const uint32_t sa = base + stage * kStageBytes;
          tma_load_2d(&map_w, fb, sa, kt * kBK, w0);
          tma_load_2d(&map_w, fb, sa + kBoxBytes, kt * kBK, w0 + p.box1_offset);
          if (nq == kFull) tma_load_2d(&map_x, fb, sa + kABytes, kt * kBK, row0);
          else
            for (int q = 0; q < nq; ++q)
              tma_load_2d(&map_x32, fb, sa + kABytes + q * kB32Bytes, kt * kBK, row0 + 32 * q);
          if (++stage == kStages) stage = 0, phase ^= 1;
        }
      }
      if (p.sched) {  // every CTA has taken its last item: the last one to get here resets the counters
        __threadfence();
        if (atomicAdd(&p.sched[1], 1u) == gridDim.x - 1) {
          atomicExch(&p.sched[0], 0u);
          atomicExch(&p.sched[1], 0u);
          if (!kSwiglu && p.ready)  // every CTA is past its last wait on ready[]
            for (int e = 0; e < E; ++e) p.ready[e] = 0u;
        }
      }
    }
    return;
  }

  if (kGather) asm volatile("setmaxnreg.inc.sync.aligned.u32 224;");
  else asm volatile("setmaxnreg.inc.sync.aligned.u32 232;");
  const int cw = wg - 1;               // consumer warpgroup: rows cw*64 .. +63 of each box
  const int warp = (tid / 32) & 3, lane = tid & 31;
  float acc0[kTN / 2], acc1[kTN / 2];
  int stage = 0;
  uint32_t phase = 0;
  for (int seq = 0;; ++seq) {
    const int slot = seq % kSlots;
    mbar_wait(smem_addr(&item_full[slot]), (seq / kSlots) & 1);
    const int item = item_slot[slot];
    __syncwarp();
    if (lane == 0) mbar_arrive(smem_addr(&item_empty[slot]));
    if (item < 0) break;
    int e, row0, valid, f;
    decode(item, e, row0, valid, f);
    // Token columns the MMAs compute: all kTN, or (dynamic schedule) the valid rows rounded up to 32.
    const int nq = p.sched ? (valid + 31) / 32 : kTN / 32;
#define GRACE_MAINLOOP(n) mainloop<n, kGather, kTN>(acc0, acc1, full_bar, empty_bar, base, cw, lane, p.k_tiles, stage, phase)
    if constexpr (kTN == 192) {
      if (nq == 6) GRACE_MAINLOOP(192);
      else if (nq == 5) GRACE_MAINLOOP(160);
      else if (nq == 4) GRACE_MAINLOOP(128);
      else if (nq == 3) GRACE_MAINLOOP(96);
      else if (nq == 2) GRACE_MAINLOOP(64);
      else GRACE_MAINLOOP(32);
    } else {
      if (nq == 4) GRACE_MAINLOOP(128);
      else if (nq == 3) GRACE_MAINLOOP(96);
      else if (nq == 2) GRACE_MAINLOOP(64);
      else GRACE_MAINLOOP(32);
    }
#undef GRACE_MAINLOOP
    // Epilogue from the wgmma D fragment: register 4c + 2h + j of lane l in warp w holds
    // D[row = 16w + l/4 + 8h][col = 8c + 2(l%4) + j]; row = weight row (feature), col = token.
    // Lanes l and l^4 hold neighbouring features of the same two tokens: one shuffle gives each
    // a feature pair of one token (4-byte stores; the even lane takes token j = 0).
    const int rbase = warp * 16 + lane / 4, cbase = 2 * (lane % 4), odd = (lane / 4) & 1;
    const int fpair = (rbase & ~1);
    auto store_pair = [&](int feat, int c, float v0, float v1) {
      const float got = __shfl_xor_sync(0xffffffffu, odd ? v0 : v1, 4);
      const int col = 8 * c + cbase + odd;
      if (col < valid) {
        const __nv_bfloat162 v = odd ? __floats2bfloat162_rn(got, v1) : __floats2bfloat162_rn(v0, got);
        *reinterpret_cast<__nv_bfloat162*>(p.out + int64_t(row0 + col) * p.ldo + feat + fpair) = v;
      }
    };
    // The warpgroup's 64 features feat0.. x the tile's valid tokens, accumulator register i
    // holding val(i): straight from registers (4-byte stores of feature pairs), or (Params::staged,
    // 192-token tiles; sixth round) through this warpgroup's shared-memory area: stmatrix .trans
    // puts 8 features of one token in 16 contiguous bytes ([token][64 features], 16-byte chunks
    // XOR-swizzled by token % 8: no bank conflicts), then 16-byte coalesced global stores.
    auto out = [&](int feat0, auto val) {
      if constexpr (kTN == 192) {
        if (p.staged) {
          const uint32_t stg = base + kStages * kStageBytes + cw * (kTN * 128);
          named_bar_sync_id(2 + cw, 128);  // this warpgroup's copy-out of the area before is done
          const int m = lane >> 3, i = lane & 7;  // this lane's row address: matrix m, row i
#pragma unroll
          for (int c = 0; c < kTN / 8; c += 2)
            if (8 * c < valid) {  // matrices (c, h 0), (c, h 1), (c + 1, h 0), (c + 1, h 1)
              uint32_t r[4];
#pragma unroll
              for (int q = 0; q < 4; ++q) {
                const int reg = 4 * (c + (q >> 1)) + 2 * (q & 1);
                r[q] = pack_bf16x2(val(reg), val(reg + 1));
              }
              const int tok = 8 * (c + (m >> 1)) + i, chunk = 2 * warp + (m & 1);
              stmatrix_x4_trans(stg + tok * 128 + ((chunk ^ (tok & 7)) << 4), r);
            }
          named_bar_sync_id(2 + cw, 128);
          for (int idx = tid & 127; idx < valid * 8; idx += 128) {
            const int tok = idx >> 3, j = idx & 7;
            const uint4 v = ld_shared_v4(stg + tok * 128 + ((j ^ (tok & 7)) << 4));
            *reinterpret_cast<uint4*>(p.out + int64_t(row0 + tok) * p.ldo + feat0 + 8 * j) = v;
          }
          return;
        }
      }
#pragma unroll
      for (int c = 0; c < kTN / 8; ++c)
        if (8 * c < valid)  // column blocks past the tile's rows: nothing to store (warp-uniform)
#pragma unroll
          for (int h = 0; h < 2; ++h) store_pair(feat0 + 8 * h, c, val(4 * c + 2 * h), val(4 * c + 2 * h + 1));
    };
    if (kSwiglu) {
      const int feat0 = f * 128 + cw * 64;  // gate rows of box 0; up rows are box 1
      // silu(g) = g / (1 + e^-g) = h + h tanh(h) with h = g / 2: one MUFU.TANH (error about
      // 2^-11 of h, below the bf16 rounding of the result) instead of MUFU.EX2 + MUFU.RCP and the
      // exp's range checks; or (tanh_silu = 0) exp and the approximate reciprocal (__fdividef:
      // 2 ulp; g -> -inf still gives 0).
      if (p.tanh_silu)
        out(feat0, [&](int i) {
          const float h = 0.5f * acc0[i];
          return fmaf(h, tanh_approx(h), h) * acc1[i];
        });
      else
        out(feat0, [&](int i) { return __fdividef(acc0[i], 1.0f + __expf(-acc0[i])) * acc1[i]; });
      if (p.ready) {  // expert chain: this warpgroup's part of the item is stored (all 128 threads)
        __threadfence();
        named_bar_sync_id(2 + cw, 128);
        if ((tid & 127) == 0) red_release_gpu_add(&p.ready[e], 1u);
      }
    } else {
      const int feat0 = f * 256 + cw * 64;  // box 0 rows feat0.., box 1 rows feat0 + 128..
      out(feat0, [&](int i) { return acc0[i]; });
      out(feat0 + 128, [&](int i) { return acc1[i]; });
    }
  }
#else
  __trap();  // built without sm_90a code: available() keeps the host from launching this
#endif
}

}  // namespace
}  // namespace grace::cuda::sm90

#endif  // GRACE_CUDA_GROUPED_GEMM_SM90_KERNEL_CUH_
