// Comm over MPI (see grace/engine/comm.h for the contract, grace/engine/mpi.h for the session).
// Every MPI call is checked; a failing call is an internal error naming the call.
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <vector>

#include "grace/engine/mpi.h"
#include "grace/error.h"

#define GRACE_MPI_CHECK(call)                                                               \
  do {                                                                                      \
    int mpi_rc_ = (call);                                                                   \
    GRACE_CHECK(mpi_rc_ == MPI_SUCCESS, "MPI call {} failed with code {}", #call, mpi_rc_); \
  } while (0)

namespace grace::engine {
namespace {

class MpiComm : public Comm {
 public:
  MpiComm(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
    GRACE_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    GRACE_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  }
  ~MpiComm() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owned_ && !finalized) MPI_Comm_free(&comm_);
  }

  std::string_view name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::unique_ptr<Comm> split(int color, int key) override {
    MPI_Comm sub;
    GRACE_MPI_CHECK(MPI_Comm_split(comm_, color, key, &sub));
    return std::make_unique<MpiComm>(sub, true);
  }

  void exchange_counts(const int64_t* send_counts, int64_t* recv_counts) override {
    GRACE_MPI_CHECK(MPI_Alltoall(send_counts, 1, MPI_INT64_T, recv_counts, 1, MPI_INT64_T, comm_));
  }

  void alltoallv(const void* send, const int64_t* send_counts, const int64_t* send_offsets, void* recv,
                 const int64_t* recv_counts, const int64_t* recv_offsets) override {
    to_int(send_counts, sc_);
    to_int(send_offsets, so_);
    to_int(recv_counts, rc_);
    to_int(recv_offsets, ro_);
    GRACE_MPI_CHECK(
        MPI_Alltoallv(send, sc_.data(), so_.data(), MPI_BYTE, recv, rc_.data(), ro_.data(), MPI_BYTE, comm_));
  }

  void allreduce_sum(double* v, int n) override { reduce(v, n, MPI_DOUBLE, MPI_SUM); }
  void allreduce_max(double* v, int n) override { reduce(v, n, MPI_DOUBLE, MPI_MAX); }
  void allreduce_sum(int64_t* v, int n) override { reduce(v, n, MPI_INT64_T, MPI_SUM); }
  void allreduce_max(int64_t* v, int n) override { reduce(v, n, MPI_INT64_T, MPI_MAX); }
  void barrier() override { GRACE_MPI_CHECK(MPI_Barrier(comm_)); }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  // MPI-3 counts are int: a larger exchange is a bug in batch sizing, not silently truncated.
  void to_int(const int64_t* in, std::vector<int>& out) const {
    out.resize(size_);
    for (int p = 0; p < size_; ++p) {
      GRACE_CHECK(in[p] >= 0 && in[p] <= INT_MAX, "alltoallv byte count/offset {} exceeds int", in[p]);
      out[p] = int(in[p]);
    }
  }
  void reduce(void* v, int n, MPI_Datatype t, MPI_Op op) {
    if (n > 0) GRACE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, n, t, op, comm_));
  }

  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0, size_ = 1;
  std::vector<int> sc_, so_, rc_, ro_;
};

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int provided = 0;
  GRACE_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  // Errors come back as codes (checked above) instead of aborting inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  world_ = std::make_unique<MpiComm>(MPI_COMM_WORLD, false);
}

MpiSession::~MpiSession() {
  world_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace grace::engine
