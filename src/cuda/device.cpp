// Host helpers of grace/cuda/device.h over the CUDA runtime.
#include "grace/cuda/device.h"

#include "cuda/cuda_check.h"
#include "grace/error.h"

namespace grace::cuda {

void cuda_fail(const char* file, int line, const char* call, const char* msg) {
  fail_internal(file, line, call, msg);
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

void set_device(int device) { GRACE_CUDA_CHECK(cudaSetDevice(device)); }
void synchronize() { GRACE_CUDA_CHECK(cudaDeviceSynchronize()); }

void* device_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  GRACE_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}
void device_free(void* p) noexcept {
  if (p) cudaFree(p);
}
void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) GRACE_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) GRACE_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
void copy_device(void* dst, const void* src, size_t bytes, Stream stream) {
  if (bytes) GRACE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
}
void fill_bytes(void* dst, int value, size_t bytes) {
  if (bytes) GRACE_CUDA_CHECK(cudaMemset(dst, value, bytes));
}

Timer::Timer(Stream s) : stream_(s) {
  cudaEvent_t a, b;
  GRACE_CUDA_CHECK(cudaEventCreate(&a));
  GRACE_CUDA_CHECK(cudaEventCreate(&b));
  begin_ = a;
  end_ = b;
}
Timer::~Timer() {
  cudaEventDestroy(static_cast<cudaEvent_t>(begin_));
  cudaEventDestroy(static_cast<cudaEvent_t>(end_));
}
void Timer::start() { GRACE_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(begin_), stream_)); }
float Timer::stop() {
  GRACE_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(end_), stream_));
  GRACE_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(end_)));
  float ms = 0;
  GRACE_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(begin_), static_cast<cudaEvent_t>(end_)));
  return ms;
}

}  // namespace grace::cuda
