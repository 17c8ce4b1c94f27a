// Kernels of the GPU-resident engine (contract in gpu_engine_kernels.h).
#include "cuda/gpu_engine_kernels.h"

#include <cuda_bf16.h>

#include <algorithm>

#include "cuda/cuda_check.h"

namespace grace::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  if (b > 132 * 32) b = 132 * 32;
  return unsigned(b);
}

__device__ __forceinline__ int peer_of(int g, StagePeers sp) {
  if (g < 0) return -1;
  switch (sp.map) {
    case StageMap::kFlat: return g;
    case StageMap::kNode: return (g / sp.gpn) * sp.gpn + sp.my_local;
    default: return g % sp.gpn;
  }
}

__global__ void unit_keys_kernel(const int32_t* dest, int64_t pairs, int k, StagePeers sp, int32_t* keys) {
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < pairs; p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t0 = (p / k) * k;
    const int pe = peer_of(dest[p], sp);
    int key = pe < 0 ? sp.size : pe;
    for (int64_t q = t0; q < p && key < sp.size; ++q)
      if (peer_of(dest[q], sp) == pe) key = sp.size;
    keys[p] = key;
  }
}

__global__ void unit_meta_kernel(const int32_t* dest, const int32_t* slot, const float* w, const int32_t* keys,
                                 const int32_t* position, int64_t pairs, int k, StagePeers sp,
                                 int32_t* out_dest, int32_t* out_slot, float* out_w) {
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < pairs; p += int64_t(gridDim.x) * blockDim.x) {
    const int key = keys[p];
    if (key >= sp.size) continue;
    const int64_t pos = position[p];
    const int64_t t0 = (p / k) * k;
    for (int j = 0; j < k; ++j) {
      const int g = dest[t0 + j];
      out_dest[pos * k + j] = peer_of(g, sp) == key ? g : -1;
      out_slot[pos * k + j] = slot[t0 + j];
      out_w[pos * k + j] = w[t0 + j];
    }
  }
}

__global__ void local_keys_kernel(const int32_t* dest, const int32_t* slot, int64_t n, int me, int base, int nl,
                                  int32_t* keys) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    keys[i] = dest[i] == me ? slot[i] - base : nl;
}

__global__ void add_residual_kernel(const __nv_bfloat162* x, int64_t n2, __nv_bfloat162* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n2; i += int64_t(gridDim.x) * blockDim.x) {
    const float2 a = __bfloat1622float2(x[i]);
    const float2 b = __bfloat1622float2(out[i]);
    out[i] = __floats2bfloat162_rn(a.x + b.x, a.y + b.y);
  }
}

__global__ void fill_f32_kernel(float* dst, int64_t n, float v) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = v;
}

// The peer owning unit u: the last p with off[p] <= u (off has size + 1 entries, ascending).
template <typename T>
__device__ __forceinline__ int owner(const T* off, int size, int64_t u) {
  int lo = 0, hi = size - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (int64_t(off[mid]) <= u) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// One block per wire row (grid-stride), 4-byte words: hidden row, then dest, slot, weight.
__global__ void pack_wire_kernel(const uint32_t* rows, const int32_t* dest, const int32_t* slot, const float* w,
                                 const int32_t* off, WireTable t, int size, int k, int64_t hw, int64_t tag,
                                 unsigned char* msgs, unsigned char* ovf) {
  if (blockIdx.x == 0)
    for (int p = threadIdx.x; p < size; p += blockDim.x) {
      if (t.msg_off[p] < 0) continue;  // no message to p
      int64_t* h = reinterpret_cast<int64_t*>(msgs + t.msg_off[p]);
      h[0] = int64_t(off[p + 1]) - off[p];
      h[1] = tag;
    }
  const int64_t units = off[size], rw = hw + 3 * int64_t(k), rb = rw * 4;
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const int p = owner(off, size, u);
    const int64_t i = u - off[p], cap = t.cap[p];
    unsigned char* dst;
    if (i < cap) {
      dst = msgs + t.msg_off[p] + 16 + i * rb;
    } else {
      int64_t base = 0;
      for (int q = 0; q < p; ++q) {
        const int64_t over = int64_t(off[q + 1]) - off[q] - t.cap[q];
        base += over > 0 ? over : 0;
      }
      dst = ovf + (base + i - cap) * rb;
    }
    uint32_t* d32 = reinterpret_cast<uint32_t*>(dst);
    for (int64_t x = threadIdx.x; x < rw; x += blockDim.x) {
      uint32_t v;
      if (x < hw) v = rows[u * hw + x];
      else if (x < hw + k) v = uint32_t(dest[u * k + (x - hw)]);
      else if (x < hw + 2 * k) v = uint32_t(slot[u * k + (x - hw - k)]);
      else v = __float_as_uint(w[u * k + (x - hw - 2 * k)]);
      d32[x] = v;
    }
  }
}

__global__ void unpack_wire_kernel(const unsigned char* msgs, const unsigned char* ovf, WireTable t, int size, int k,
                                   int64_t hw, int64_t m, uint32_t* rows, int32_t* dest, int32_t* slot, float* w) {
  const int64_t rw = hw + 3 * int64_t(k), rb = rw * 4;
  for (int64_t j = blockIdx.x; j < m; j += gridDim.x) {
    const int p = owner(t.recv_off, size, j);
    const int64_t i = j - t.recv_off[p], cap = t.cap[p];
    const unsigned char* src = i < cap ? msgs + t.msg_off[p] + 16 + i * rb : ovf + (t.ovf_base[p] + i - cap) * rb;
    const uint32_t* s32 = reinterpret_cast<const uint32_t*>(src);
    for (int64_t x = threadIdx.x; x < rw; x += blockDim.x) {
      const uint32_t v = s32[x];
      if (x < hw) rows[j * hw + x] = v;
      else if (x < hw + k) dest[j * k + (x - hw)] = int32_t(v);
      else if (x < hw + 2 * k) slot[j * k + (x - hw - k)] = int32_t(v);
      else w[j * k + (x - hw - 2 * k)] = __uint_as_float(v);
    }
  }
}

__global__ void wire_counts_kernel(const int32_t* off, const unsigned char* recv, const int64_t* recv_off, int n,
                                   int64_t* counts) {
  for (int p = threadIdx.x; p < n; p += blockDim.x) {
    counts[p] = int64_t(off[p + 1]) - off[p];
    if (recv_off[p] < 0) {  // no message from p
      counts[n + p] = 0;
      counts[2 * n + p] = -1;
      continue;
    }
    const int64_t* h = reinterpret_cast<const int64_t*>(recv + recv_off[p]);
    counts[n + p] = h[0];
    counts[2 * n + p] = h[1];
  }
}

unsigned row_blocks(int64_t rows) { return unsigned(std::min<int64_t>(std::max<int64_t>(rows, 1), 132 * 16)); }

}  // namespace

void pack_wire(const bf16_t* rows, const int32_t* dest, const int32_t* slot, const float* w, const int32_t* offsets,
               WireTable t, int size, int top_k, int64_t hidden, int64_t tag, unsigned char* msgs,
               unsigned char* ovf, Stream stream) {
  GRACE_CUDA_REQUIRE(hidden % 2 == 0, "pack_wire: odd hidden size");
  // The unit count is on the device: size the grid for the upper bound (blocks past it exit).
  pack_wire_kernel<<<row_blocks(132 * 16), kThreads, 0, stream>>>(
      reinterpret_cast<const uint32_t*>(rows), dest, slot, w, offsets, t, size, top_k, hidden / 2, tag, msgs, ovf);
  GRACE_CUDA_CHECK_LAUNCH();
}

void unpack_wire(const unsigned char* msgs, const unsigned char* ovf, WireTable t, int size, int top_k,
                 int64_t hidden, int64_t m, bf16_t* rows, int32_t* dest, int32_t* slot, float* w, Stream stream) {
  GRACE_CUDA_REQUIRE(hidden % 2 == 0, "unpack_wire: odd hidden size");
  if (m <= 0) return;
  unpack_wire_kernel<<<row_blocks(m), kThreads, 0, stream>>>(msgs, ovf, t, size, top_k, hidden / 2, m,
                                                             reinterpret_cast<uint32_t*>(rows), dest, slot, w);
  GRACE_CUDA_CHECK_LAUNCH();
}

void wire_counts(const int32_t* offsets, const unsigned char* recv_msgs, const int64_t* recv_msg_off, int size,
                 int64_t* counts, Stream stream) {
  wire_counts_kernel<<<1, 128, 0, stream>>>(offsets, recv_msgs, recv_msg_off, size, counts);
  GRACE_CUDA_CHECK_LAUNCH();
}

void unit_keys(const int32_t* dest, int64_t tokens, int top_k, StagePeers sp, int32_t* keys, Stream stream) {
  const int64_t pairs = tokens * top_k;
  if (pairs <= 0) return;
  unit_keys_kernel<<<blocks_for(pairs), kThreads, 0, stream>>>(dest, pairs, top_k, sp, keys);
  GRACE_CUDA_CHECK_LAUNCH();
}

void unit_meta(const int32_t* dest, const int32_t* slot, const float* w, const int32_t* keys,
               const int32_t* position, int64_t tokens, int top_k, StagePeers sp, int32_t* out_dest,
               int32_t* out_slot, float* out_w, Stream stream) {
  const int64_t pairs = tokens * top_k;
  if (pairs <= 0) return;
  unit_meta_kernel<<<blocks_for(pairs), kThreads, 0, stream>>>(dest, slot, w, keys, position, pairs, top_k, sp,
                                                               out_dest, out_slot, out_w);
  GRACE_CUDA_CHECK_LAUNCH();
}

void local_keys(const int32_t* dest, const int32_t* slot, int64_t n, int me, int slot_base, int num_local,
                int32_t* keys, Stream stream) {
  if (n <= 0) return;
  local_keys_kernel<<<blocks_for(n), kThreads, 0, stream>>>(dest, slot, n, me, slot_base, num_local, keys);
  GRACE_CUDA_CHECK_LAUNCH();
}

void add_residual(const bf16_t* x, int64_t n, bf16_t* out, Stream stream) {
  GRACE_CUDA_REQUIRE(n % 2 == 0, "add_residual: odd element count");
  if (n <= 0) return;
  add_residual_kernel<<<blocks_for(n / 2), kThreads, 0, stream>>>(reinterpret_cast<const __nv_bfloat162*>(x), n / 2,
                                                                 reinterpret_cast<__nv_bfloat162*>(out));
  GRACE_CUDA_CHECK_LAUNCH();
}

void fill_f32(float* dst, int64_t n, float value, Stream stream) {
  if (n <= 0) return;
  fill_f32_kernel<<<blocks_for(n), kThreads, 0, stream>>>(dst, n, value);
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
