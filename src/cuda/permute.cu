// Permute / unpermute kernels (contract in grace/cuda/permute.h): a stable counting sort for
// up to 255 buckets and 8192 pairs (cuda/bucket_sort.h), else a stable cub radix sort of pair keys with offsets
// read off the sorted keys; and 16-byte vectorised row copies.
#include <cub/device/device_radix_sort.cuh>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "cuda/bucket_sort.h"
#include "cuda/cuda_check.h"
#include "grace/cuda/permute.h"

namespace grace::cuda {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

__global__ void iota_kernel(int32_t* out, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = int32_t(i);
}

// offsets[b] = first sorted index whose key >= b; thread i handles the boundary before i.
__global__ void offsets_kernel(const int32_t* sorted, int64_t n, int num_buckets, int32_t* offsets) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i > n) return;
  const int lo = i == 0 ? -1 : min(sorted[i - 1], num_buckets);
  const int hi = i == n ? num_buckets : min(sorted[i], num_buckets);
  for (int b = lo + 1; b <= hi; ++b) offsets[b] = int32_t(i);
}

__global__ void inverse_kernel(const int32_t* order, int64_t n, int32_t* position) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) position[order[i]] = int32_t(i);
}

// One warp per destination row (8 rows per block): no per-element division, and each lane
// issues its row's loads (up to kUnroll 16-byte vectors) before its stores.
constexpr int kRowsPerBlock = 8;
constexpr int kUnroll = 8;

__global__ void gather_kernel(const uint4* src, const int32_t* order, int k, int64_t rows,
                              int vec_per_row, uint4* dst) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (r >= rows) return;
  const uint4* s = src + int64_t(order[r] / k) * vec_per_row;
  uint4* d = dst + r * vec_per_row;
  for (int base = 0; base < vec_per_row; base += 32 * kUnroll) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = base + u * 32 + threadIdx.x;
      if (c < vec_per_row) v[u] = s[c];
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = base + u * 32 + threadIdx.x;
      if (c < vec_per_row) d[c] = v[u];
    }
  }
}

// One warp per source token: its row is read once and written to each of its kept pairs'
// sorted positions (k stores per load), so x crosses HBM once instead of once per pair.
// kWaitFirst: launched as a programmatic dependent launch; the first chunk of the row is loaded
// before waiting for the previous kernel (which wrote position / kept, not src).
__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

template <bool kWaitFirst>
__global__ void scatter_kernel(const uint4* src, const int32_t* position, const int32_t* kept,
                               int64_t tokens, int k, int vec_per_row, uint4* dst) {
  const int64_t t = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (t >= tokens) {
    return;
  }
  const uint4* s = src + t * vec_per_row;
  int32_t limit = INT32_MAX;
  for (int base = 0; base < vec_per_row; base += 32 * kUnroll) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = base + u * 32 + threadIdx.x;
      if (c < vec_per_row) v[u] = s[c];
    }
    if (base == 0) {
      if (kWaitFirst) grid_dependency_wait();
      if (kept) limit = *kept;
    }
    for (int j = 0; j < k; ++j) {
      const int32_t p = position[t * k + j];
      if (p >= limit) continue;
      uint4* d = dst + int64_t(p) * vec_per_row;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int c = base + u * 32 + threadIdx.x;
        if (c < vec_per_row) d[c] = v[u];
      }
    }
  }
}

__device__ __forceinline__ void acc8(float* a, uint4 v, float w) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const float2 f = __bfloat1622float2(h[q]);
    a[2 * q] += w * f.x;
    a[2 * q + 1] += w * f.y;
  }
}

// One thread per (token, 16-byte column). K > 0: top-k known at compile time, so the k
// positions, weights and row loads are all issued before the first add (latency, not a loop of
// dependent round trips); K == 0: any k.
template <int K, bool kWaitFirst>
__global__ void combine_kernel(const uint4* rows, const int32_t* position, const float* weights,
                               const int32_t* kept, int64_t tokens, int k_any, int vec_per_row,
                               uint4* out) {
  if (kWaitFirst) grid_dependency_wait();  // programmatic dependent launch: the FFN wrote rows
  constexpr int kMax = K > 0 ? K : 1;
  const int k = K > 0 ? K : k_any;
  const int64_t total = tokens * vec_per_row;
  const int32_t limit = kept ? *kept : INT32_MAX;
  for (int64_t v = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; v < total;
       v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = v / vec_per_row;
    const int c = int(v - t * vec_per_row);
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (K > 0) {
      int32_t p[kMax];
      float w[kMax];
      uint4 r[kMax];
#pragma unroll
      for (int j = 0; j < kMax; ++j) {
        p[j] = position[t * kMax + j];
        w[j] = weights[t * kMax + j];
      }
#pragma unroll
      for (int j = 0; j < kMax; ++j)
        if (p[j] < limit) r[j] = rows[int64_t(p[j]) * vec_per_row + c];
#pragma unroll
      for (int j = 0; j < kMax; ++j)
        if (p[j] < limit) acc8(a, r[j], w[j]);
    } else {
      for (int j = 0; j < k; ++j) {
        const int32_t p = position[t * k + j];
        if (p >= limit) continue;
        acc8(a, rows[int64_t(p) * vec_per_row + c], weights[t * k + j]);
      }
    }
    uint4 o;
    __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&o);
#pragma unroll
    for (int q = 0; q < 4; ++q) h[q] = __floats2bfloat162_rn(a[2 * q], a[2 * q + 1]);
    out[v] = o;
  }
}

__global__ void to_bf16_kernel(const float* src, int64_t n, __nv_bfloat16* dst) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}
__global__ void to_f32_kernel(const __nv_bfloat16* src, int64_t n, float* dst) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __bfloat162float(src[i]);
}

unsigned grid_for(int64_t work) {
  const int64_t b = (work + kThreads - 1) / kThreads;
  return unsigned(b < 132 * 32 ? (b > 0 ? b : 1) : 132 * 32);  // grid-stride beyond ~32 waves
}

int bits_for(int num_buckets) {
  int bits = 1;
  while ((1 << bits) <= num_buckets) ++bits;
  return bits;
}

}  // namespace

void PairBuckets::build(const int32_t* keys, int64_t n, int num_buckets, Stream stream) {
  GRACE_CUDA_REQUIRE(n >= 0 && n < INT32_MAX && num_buckets > 0, "bad bucket build (pairs or buckets out of range)");
  num_pairs_ = n;
  num_buckets_ = num_buckets;
  order_.resize(n + 1);
  position_.resize(n + 1);
  keys_sorted_.resize(n + 1);
  iota_.resize(n + 1);
  offsets_.resize(num_buckets + 1);
  if (counting_sort_fits(n, num_buckets)) {
    counting_sort(keys, n, num_buckets, order_.get(), position_.get(), offsets_.get(), stream);
    return;
  }
  if (n > 0) {
    iota_kernel<<<blocks_for(n), kThreads, 0, stream>>>(iota_.get(), n);
    GRACE_CUDA_CHECK_LAUNCH();
    const int end_bit = bits_for(num_buckets);
    size_t temp_bytes = 0;
    GRACE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, keys_sorted_.get(),
                                                     iota_.get(), order_.get(), int(n), 0, end_bit, stream));
    temp_.resize(temp_bytes + 1);
    GRACE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp_.get(), temp_bytes, keys, keys_sorted_.get(),
                                                     iota_.get(), order_.get(), int(n), 0, end_bit, stream));
    inverse_kernel<<<blocks_for(n), kThreads, 0, stream>>>(order_.get(), n, position_.get());
    GRACE_CUDA_CHECK_LAUNCH();
  }
  offsets_kernel<<<blocks_for(n + 1), kThreads, 0, stream>>>(keys_sorted_.get(), n, num_buckets,
                                                             offsets_.get());
  GRACE_CUDA_CHECK_LAUNCH();
}

std::vector<int32_t> PairBuckets::host_offsets(Stream stream) const {
  std::vector<int32_t> h(size_t(num_buckets_) + 1);
  GRACE_CUDA_CHECK(cudaMemcpyAsync(h.data(), offsets_.get(), h.size() * 4, cudaMemcpyDeviceToHost, stream));
  GRACE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return h;
}

void gather_rows(const bf16_t* src, const int32_t* order, int top_k, int64_t rows, int64_t hidden,
                 bf16_t* dst, Stream stream) {
  GRACE_CUDA_REQUIRE(hidden % 8 == 0, "hidden size is not a multiple of 8");
  if (rows <= 0) return;
  const int vpr = int(hidden / 8);
  const dim3 block(32, kRowsPerBlock);
  gather_kernel<<<unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock), block, 0, stream>>>(
      reinterpret_cast<const uint4*>(src), order, top_k, rows, vpr, reinterpret_cast<uint4*>(dst));
  GRACE_CUDA_CHECK_LAUNCH();
}

void scatter_rows(const bf16_t* src, const int32_t* position, const int32_t* kept, int64_t tokens,
                  int top_k, int64_t hidden, bf16_t* dst, Stream stream) {
  GRACE_CUDA_REQUIRE(hidden % 8 == 0, "hidden size is not a multiple of 8");
  if (tokens <= 0) return;
  const dim3 block(32, kRowsPerBlock);
  scatter_kernel<false><<<unsigned((tokens + kRowsPerBlock - 1) / kRowsPerBlock), block, 0, stream>>>(
      reinterpret_cast<const uint4*>(src), position, kept, tokens, top_k, int(hidden / 8),
      reinterpret_cast<uint4*>(dst));
  GRACE_CUDA_CHECK_LAUNCH();
}

bool pdl_supported() {
  static int cached[64];  // per device: 0 unknown, 1 no, 2 yes
  int dev = 0;
  GRACE_CUDA_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= 64) return false;
  if (cached[dev] == 0) {
    int major = 0;
    GRACE_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    cached[dev] = major >= 9 ? 2 : 1;
  }
  return cached[dev] == 2;
}

void scatter_rows_after_build(const bf16_t* src, const int32_t* position, const int32_t* kept,
                              int64_t tokens, int top_k, int64_t hidden, bf16_t* dst, Stream stream) {
  GRACE_CUDA_REQUIRE(hidden % 8 == 0, "hidden size is not a multiple of 8");
  if (tokens <= 0) return;
  if (!pdl_supported()) {
    scatter_rows(src, position, kept, tokens, top_k, hidden, dst, stream);
    return;
  }
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(unsigned((tokens + kRowsPerBlock - 1) / kRowsPerBlock));
  cfg.blockDim = dim3(32, kRowsPerBlock);
  cfg.dynamicSmemBytes = 0;
  cfg.stream = static_cast<cudaStream_t>(stream);
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  GRACE_CUDA_CHECK(cudaLaunchKernelEx(&cfg, scatter_kernel<true>, reinterpret_cast<const uint4*>(src), position,
                                      kept, tokens, top_k, int(hidden / 8), reinterpret_cast<uint4*>(dst)));
  GRACE_CUDA_CHECK_LAUNCH();
}

namespace {

void launch_combine(const bf16_t* rows, const int32_t* position, const float* weights, const int32_t* kept,
                    int64_t tokens, int top_k, int64_t hidden, bf16_t* out, Stream stream, bool pdl) {
  GRACE_CUDA_REQUIRE(hidden % 8 == 0, "hidden size is not a multiple of 8");
  if (tokens <= 0) return;
  const int vpr = int(hidden / 8);
  const uint4* r = reinterpret_cast<const uint4*>(rows);
  uint4* o = reinterpret_cast<uint4*>(out);
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(grid_for(tokens * vpr));
  cfg.blockDim = dim3(kThreads);
  cfg.stream = static_cast<cudaStream_t>(stream);
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  const int kk = (top_k == 1 || top_k == 2 || top_k == 4 || top_k == 6 || top_k == 8) ? top_k : 0;
  switch (kk) {  // K = 0: any top-k
#define GRACE_COMBINE_K(K)                                                                                 \
    case K:                                                                                                \
      GRACE_CUDA_CHECK(pdl ? cudaLaunchKernelEx(&cfg, combine_kernel<K, true>, r, position, weights, kept, tokens, \
                                                top_k, vpr, o)                                              \
                           : cudaLaunchKernelEx(&cfg, combine_kernel<K, false>, r, position, weights, kept,  \
                                                tokens, top_k, vpr, o));                                    \
      break;
    GRACE_COMBINE_K(1) GRACE_COMBINE_K(2) GRACE_COMBINE_K(4) GRACE_COMBINE_K(6) GRACE_COMBINE_K(8)
    GRACE_COMBINE_K(0)
#undef GRACE_COMBINE_K
  }
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace

void combine_rows(const bf16_t* rows, const int32_t* position, const float* weights,
                  const int32_t* kept, int64_t tokens, int top_k, int64_t hidden, bf16_t* out,
                  Stream stream) {
  launch_combine(rows, position, weights, kept, tokens, top_k, hidden, out, stream, false);
}

void combine_rows_after_ffn(const bf16_t* rows, const int32_t* position, const float* weights,
                            const int32_t* kept, int64_t tokens, int top_k, int64_t hidden, bf16_t* out,
                            Stream stream) {
  launch_combine(rows, position, weights, kept, tokens, top_k, hidden, out, stream, pdl_supported());
}

void to_bf16(const float* src, int64_t n, bf16_t* dst, Stream stream) {
  if (n <= 0) return;
  to_bf16_kernel<<<grid_for(n), kThreads, 0, stream>>>(src, n, reinterpret_cast<__nv_bfloat16*>(dst));
  GRACE_CUDA_CHECK_LAUNCH();
}
void to_f32(const bf16_t* src, int64_t n, float* dst, Stream stream) {
  if (n <= 0) return;
  to_f32_kernel<<<grid_for(n), kThreads, 0, stream>>>(reinterpret_cast<const __nv_bfloat16*>(src), n, dst);
  GRACE_CUDA_CHECK_LAUNCH();
}

}  // namespace grace::cuda
