// NcclComm: engine::Comm over NCCL (contract in grace/cuda/nccl_comm.h).
#include "grace/cuda/nccl_comm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cuda/cuda_check.h"
#include "grace/cuda/device.h"
#include "grace/error.h"

#ifdef GRACE_HAVE_NCCL
#include <nccl.h>
#endif

namespace grace::cuda {

#ifdef GRACE_HAVE_NCCL
namespace {

class NcclComm final : public engine::Comm {
 public:
  NcclComm(ncclComm_t comm, int device) : comm_(comm), device_(device) {
    set_device(device);
    GRACE_NCCL_CHECK(ncclCommUserRank(comm_, &rank_));
    GRACE_NCCL_CHECK(ncclCommCount(comm_, &size_));
    GRACE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~NcclComm() override {
    cudaSetDevice(device_);
    if (comm_) ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }

  std::string_view name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::unique_ptr<engine::Comm> split(int color, int key) override {
    set_device(device_);
    ncclComm_t sub = nullptr;
    GRACE_NCCL_CHECK(ncclCommSplit(comm_, color, key, &sub, nullptr));
    GRACE_CHECK(sub, "ncclCommSplit gave no communicator for color {}", color);
    return std::make_unique<NcclComm>(sub, device_);
  }

  void exchange_counts(const int64_t* send_counts, int64_t* recv_counts) override {
    set_device(device_);
    scratch_.resize(size_t(2) * size_ * 8);
    int64_t* d = reinterpret_cast<int64_t*>(scratch_.get());
    GRACE_CUDA_CHECK(cudaMemcpyAsync(d, send_counts, size_t(size_) * 8, cudaMemcpyHostToDevice, stream_));
    GRACE_NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < size_; ++p) {
      GRACE_NCCL_CHECK(ncclSend(d + p, 1, ncclInt64, p, comm_, stream_));
      GRACE_NCCL_CHECK(ncclRecv(d + size_ + p, 1, ncclInt64, p, comm_, stream_));
    }
    GRACE_NCCL_CHECK(ncclGroupEnd());
    GRACE_CUDA_CHECK(cudaMemcpyAsync(recv_counts, d + size_, size_t(size_) * 8, cudaMemcpyDeviceToHost, stream_));
    GRACE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void alltoallv(const void* send, const int64_t* send_counts, const int64_t* send_offsets, void* recv,
                 const int64_t* recv_counts, const int64_t* recv_offsets) override {
    set_device(device_);
    int64_t send_end = 0, recv_end = 0;
    for (int p = 0; p < size_; ++p) {
      if (send_counts[p] > 0) send_end = std::max(send_end, send_offsets[p] + send_counts[p]);
      if (recv_counts[p] > 0) recv_end = std::max(recv_end, recv_offsets[p] + recv_counts[p]);
    }
    const bool send_dev = is_device(send), recv_dev = is_device(recv);
    const char* s = static_cast<const char*>(send);
    char* r = static_cast<char*>(recv);
    if (!send_dev && send_end > 0) {
      send_stage_.resize(size_t(send_end));
      GRACE_CUDA_CHECK(cudaMemcpyAsync(send_stage_.get(), send, size_t(send_end), cudaMemcpyHostToDevice, stream_));
      s = reinterpret_cast<const char*>(send_stage_.get());
    }
    if (!recv_dev && recv_end > 0) {
      recv_stage_.resize(size_t(recv_end));
      r = reinterpret_cast<char*>(recv_stage_.get());
    }
    GRACE_NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < size_; ++p) {
      if (send_counts[p] > 0) GRACE_NCCL_CHECK(ncclSend(s + send_offsets[p], size_t(send_counts[p]), ncclInt8, p, comm_, stream_));
      if (recv_counts[p] > 0) GRACE_NCCL_CHECK(ncclRecv(r + recv_offsets[p], size_t(recv_counts[p]), ncclInt8, p, comm_, stream_));
    }
    GRACE_NCCL_CHECK(ncclGroupEnd());
    if (!recv_dev && recv_end > 0)
      GRACE_CUDA_CHECK(cudaMemcpyAsync(recv, r, size_t(recv_end), cudaMemcpyDeviceToHost, stream_));
    GRACE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void allreduce_sum(double* v, int n) override { allreduce(v, n, ncclDouble, ncclSum); }
  void allreduce_max(double* v, int n) override { allreduce(v, n, ncclDouble, ncclMax); }
  void allreduce_sum(int64_t* v, int n) override { allreduce(v, n, ncclInt64, ncclSum); }
  void allreduce_max(int64_t* v, int n) override { allreduce(v, n, ncclInt64, ncclMax); }
  void barrier() override {
    int64_t one = 1;
    allreduce(&one, 1, ncclInt64, ncclSum);
  }

  [[noreturn]] void abort(int code) override {
    ncclCommAbort(comm_);
    comm_ = nullptr;
    std::_Exit(code == 0 ? 1 : code);
  }

  void* alloc_buffer(size_t bytes) override {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    GRACE_CUDA_CHECK(cudaMallocHost(&p, bytes));
    return p;
  }
  void free_buffer(void* p) override {
    if (p) cudaFreeHost(p);
  }

 private:
  static bool is_device(const void* p) {
    if (!p) return false;
    cudaPointerAttributes a{};
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
  }

  void allreduce(void* v, int n, ncclDataType_t type, ncclRedOp_t op) {
    if (n <= 0) return;
    set_device(device_);
    const size_t bytes = size_t(n) * 8;
    scratch_.resize(bytes);
    GRACE_CUDA_CHECK(cudaMemcpyAsync(scratch_.get(), v, bytes, cudaMemcpyHostToDevice, stream_));
    GRACE_NCCL_CHECK(ncclAllReduce(scratch_.get(), scratch_.get(), size_t(n), type, op, comm_, stream_));
    GRACE_CUDA_CHECK(cudaMemcpyAsync(v, scratch_.get(), bytes, cudaMemcpyDeviceToHost, stream_));
    GRACE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  ncclComm_t comm_ = nullptr;
  int device_ = 0, rank_ = 0, size_ = 0;
  cudaStream_t stream_ = nullptr;
  DeviceBuffer<unsigned char> scratch_, send_stage_, recv_stage_;
};

}  // namespace

bool have_nccl() { return true; }

NcclId nccl_unique_id() {
  static_assert(sizeof(ncclUniqueId) == sizeof(NcclId), "NCCL unique id size changed");
  ncclUniqueId id;
  GRACE_NCCL_CHECK(ncclGetUniqueId(&id));
  NcclId out;
  std::memcpy(out.bytes, &id, sizeof id);
  return out;
}

std::unique_ptr<engine::Comm> make_nccl_comm(const NcclId& id, int rank, int size, int device) {
  set_device(device);
  ncclUniqueId uid;
  std::memcpy(&uid, id.bytes, sizeof uid);
  ncclComm_t comm = nullptr;
  GRACE_NCCL_CHECK(ncclCommInitRank(&comm, size, uid, rank));
  return std::make_unique<NcclComm>(comm, device);
}

std::unique_ptr<engine::Comm> make_nccl_comm(engine::Comm& boot, int device) {
  return make_nccl_comm(share_nccl_id(boot), boot.rank(), boot.size(), device);
}

NcclId share_nccl_id(engine::Comm& boot) {
  const int n = boot.size();
  NcclId id{};
  if (boot.rank() == 0) id = nccl_unique_id();
  // Rank 0 sends the 128 bytes to everyone (itself included); the others send nothing.
  std::vector<int64_t> sc(n, boot.rank() == 0 ? int64_t(sizeof id) : 0), so(n, 0), rc(n, 0), ro(n, 0);
  rc[0] = sizeof id;
  void* sbuf = boot.alloc_buffer(sizeof id);
  void* rbuf = boot.alloc_buffer(sizeof id);
  std::memcpy(sbuf, &id, sizeof id);
  boot.alltoallv(sbuf, sc.data(), so.data(), rbuf, rc.data(), ro.data());
  std::memcpy(&id, rbuf, sizeof id);
  boot.free_buffer(sbuf);
  boot.free_buffer(rbuf);
  return id;
}

#else  // no NCCL in this build

bool have_nccl() { return false; }
NcclId nccl_unique_id() { fail_internal(__FILE__, __LINE__, "GRACE_HAVE_NCCL", "built without NCCL"); }
std::unique_ptr<engine::Comm> make_nccl_comm(const NcclId&, int, int, int) {
  fail_internal(__FILE__, __LINE__, "GRACE_HAVE_NCCL", "built without NCCL");
}
std::unique_ptr<engine::Comm> make_nccl_comm(engine::Comm&, int) {
  fail_internal(__FILE__, __LINE__, "GRACE_HAVE_NCCL", "built without NCCL");
}
NcclId share_nccl_id(engine::Comm&) { fail_internal(__FILE__, __LINE__, "GRACE_HAVE_NCCL", "built without NCCL"); }

#endif

}  // namespace grace::cuda
