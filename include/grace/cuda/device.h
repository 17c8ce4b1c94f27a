// Host-side helpers of the CUDA backend: device memory that frees itself, copies, bf16 bit
// conversion, and the stream type. No CUDA headers: a stream is the runtime's opaque pointer
// (cudaStream_t is CUstream_st*), bf16 values travel as their 16 raw bits.
//
// Every call that fails throws grace::Error naming the CUDA call and its error string.
#ifndef GRACE_CUDA_DEVICE_H_
#define GRACE_CUDA_DEVICE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

struct CUstream_st;

namespace grace::cuda {

using Stream = CUstream_st*;  // nullptr is the default stream
using bf16_t = uint16_t;      // raw bits of a bfloat16

// Number of visible CUDA devices; 0 when there is no GPU or no driver (never throws).
int device_count();
void set_device(int device);
void synchronize();  // cudaDeviceSynchronize, throws on an asynchronous error

void* device_alloc(size_t bytes);  // nullptr for 0 bytes
void device_free(void* p) noexcept;
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_device(void* dst, const void* src, size_t bytes, Stream stream = nullptr);
void fill_bytes(void* dst, int value, size_t bytes);

// Fills n bf16 values with a deterministic pseudo-random uniform in [-scale, scale) (a hash
// of (seed, index)): test and benchmark data without a host round trip.
void fill_uniform_bf16(bf16_t* dst, int64_t n, uint64_t seed, float scale, Stream stream = nullptr);

// Round to nearest even, as the hardware does.
inline bf16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_t((u >> 16) | 0x40u);  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16_t(u >> 16);
}
inline float bf16_to_float(bf16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// An owning array of T in device memory. Growing reallocates (contents are not kept).
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) { resize(n); }
  ~DeviceBuffer() { device_free(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(n_, o.n_);
    return *this;
  }

  // Ensures room for n elements (reallocating only to grow). A buffer that grows again takes at
  // least 1.5x its size: per-call sizes vary (the engine's message buffers follow the routing),
  // and every regrowth is a cudaFree, which waits for the whole device, inside a timed layer.
  void resize(size_t n) {
    if (n <= n_) return;
    const size_t want = n_ == 0 ? n : std::max(n, n_ + n_ / 2);
    device_free(ptr_);
    ptr_ = nullptr;
    n_ = 0;
    ptr_ = static_cast<T*>(device_alloc(want * sizeof(T)));
    n_ = want;
  }
  void upload(const T* src, size_t n) {
    resize(n);
    copy_to_device(ptr_, src, n * sizeof(T));
  }
  void download(T* dst, size_t n) const { copy_to_host(dst, ptr_, n * sizeof(T)); }

  T* get() { return ptr_; }
  const T* get() const { return ptr_; }
  size_t size() const { return n_; }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

// A CUDA event pair for timing a stream region (milliseconds).
class Timer {
 public:
  explicit Timer(Stream s = nullptr);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void start();
  float stop();  // records, waits and returns the elapsed milliseconds

 private:
  Stream stream_;
  void* begin_ = nullptr;
  void* end_ = nullptr;
};

}  // namespace grace::cuda

#endif  // GRACE_CUDA_DEVICE_H_
