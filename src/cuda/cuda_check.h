// Checking macros for every CUDA runtime call of src/cuda: a failure throws grace::Error with
// the call's text, file, line and the runtime's error string.
//
// NOTES: this header must stay free of fmt (and so of grace/error.h): nvcc's host pass cannot
// compile fmt 9's consteval format-string machinery, so .cu files report through cuda_fail.
#ifndef GRACE_SRC_CUDA_CUDA_CHECK_H_
#define GRACE_SRC_CUDA_CUDA_CHECK_H_

#include <cuda_runtime.h>

namespace grace::cuda {
// Throws grace::Error("file:line: call: msg"). Defined in device.cpp.
[[noreturn]] void cuda_fail(const char* file, int line, const char* call, const char* msg);
}  // namespace grace::cuda

#define GRACE_CUDA_CHECK(call)                                                          \
  do {                                                                                  \
    cudaError_t err_ = (call);                                                          \
    if (err_ != cudaSuccess)                                                            \
      ::grace::cuda::cuda_fail(__FILE__, __LINE__, #call, cudaGetErrorString(err_));    \
  } while (0)

// After a kernel launch: the launch error (bad configuration), not the kernel's completion.
#define GRACE_CUDA_CHECK_LAUNCH() GRACE_CUDA_CHECK(cudaGetLastError())

// An invariant with a fixed message (usable in .cu files).
#define GRACE_CUDA_REQUIRE(cond, msg)                                           \
  do {                                                                          \
    if (!(cond)) ::grace::cuda::cuda_fail(__FILE__, __LINE__, #cond, msg);      \
  } while (0)

// Every NCCL call of src/cuda (files built with GRACE_HAVE_NCCL): a failure throws grace::Error.
#ifdef GRACE_HAVE_NCCL
#include <nccl.h>
#define GRACE_NCCL_CHECK(call)                                                             \
  do {                                                                                     \
    ncclResult_t r_ = (call);                                                              \
    if (r_ != ncclSuccess) ::grace::cuda::cuda_fail(__FILE__, __LINE__, #call, ncclGetErrorString(r_)); \
  } while (0)
#endif

#endif  // GRACE_SRC_CUDA_CUDA_CHECK_H_
