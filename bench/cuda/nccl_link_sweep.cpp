// nccl_link_sweep: what the inter-node link gives NCCL. One process per GPU, started like
// `grace run --rendezvous DIR` (GRACE_RANK / GRACE_SIZE / GRACE_LOCAL_RANK, --gpus-per-node G):
// every rank of node 0 exchanges a buffer with the rank of the same local index on node 1, both
// directions at once (grouped ncclSend/ncclRecv, as the engine's all-to-all does), for sizes
// --min-kb (256) .. --max-mb (256). Reports, per size, the median time of --reps exchanges
// after 2 warm-ups (each exchange after an all-reduce that lines the ranks up; CUDA events) and
// the per-direction rate of the whole node pair (bytes one node sends / time), Gbit/s. With
// --detail, two more columns: the median host time of the same exchange (enqueue to event
// done) and the time per exchange of --reps exchanges issued back to back (no line-up), which
// tell a per-operation latency from a wake-up delay.
//
// usage: nccl_link_sweep --rendezvous DIR --gpus-per-node G [--reps 5] [--min-kb 256]
//        [--max-mb 256] [--detail 1]
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "grace/cuda/device.h"
#include "grace/cuda/nccl_comm.h"

namespace {

int env_int(const char* a, const char* b, int dflt) {
  for (const char* n : {a, b})
    if (const char* v = std::getenv(n); v && *v) return std::atoi(v);
  return dflt;
}

#define CK(x)                                                                  \
  do {                                                                         \
    if (auto e = (x); e != 0) {                                                \
      std::fprintf(stderr, "nccl_link_sweep: %s failed (%d)\n", #x, int(e)); \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

}  // namespace

int main(int argc, char** argv) {
  std::string rdv;
  int gpn = 1, reps = 5, max_mb = 256, min_kb = 256, detail = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rendezvous") rdv = argv[i + 1];
    else if (a == "--gpus-per-node") gpn = std::atoi(argv[i + 1]);
    else if (a == "--reps") reps = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--max-mb") max_mb = std::atoi(argv[i + 1]);
    else if (a == "--min-kb") min_kb = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--detail") detail = std::atoi(argv[i + 1]);
    else { std::fprintf(stderr, "nccl_link_sweep: unknown flag %s\n", a.c_str()); return 2; }
  }
  const int rank = env_int("GRACE_RANK", "OMPI_COMM_WORLD_RANK", 0);
  const int size = env_int("GRACE_SIZE", "OMPI_COMM_WORLD_SIZE", 1);
  const int local = env_int("GRACE_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", 0);
  if (rdv.empty() || size != 2 * gpn) {
    std::fprintf(stderr, "nccl_link_sweep: need --rendezvous and 2 x --gpus-per-node ranks\n");
    return 2;
  }
  const int ndev = grace::cuda::device_count();
  CK(cudaSetDevice(local % std::max(ndev, 1)));
  const grace::cuda::NcclId id = grace::cuda::rendezvous_nccl_id(rdv, rank, "sweep");
  ncclUniqueId uid;
  std::memcpy(&uid, id.bytes, sizeof uid);
  ncclComm_t comm;
  CK(ncclCommInitRank(&comm, size, uid, rank));
  cudaStream_t st;
  CK(cudaStreamCreate(&st));
  const int peer = (rank + gpn) % size;
  const size_t max_bytes = size_t(max_mb) << 20;
  void *sbuf, *rbuf;
  CK(cudaMalloc(&sbuf, max_bytes));
  CK(cudaMalloc(&rbuf, max_bytes));
  CK(cudaMemset(sbuf, 1, max_bytes));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  float* one;
  CK(cudaMalloc(&one, sizeof(float)));
  if (rank == 0) {
    std::printf("%10s %10s %12s %14s", "bytes/rank", "ms", "Gbit/s/rank", "Gbit/s/node-dir");
    if (detail) std::printf(" %10s %12s", "host_ms", "back2back_ms");
    std::printf("\n");
  }
  auto exchange = [&](size_t bytes) {
    CK(ncclGroupStart());
    CK(ncclSend(sbuf, bytes, ncclInt8, peer, comm, st));
    CK(ncclRecv(rbuf, bytes, ncclInt8, peer, comm, st));
    CK(ncclGroupEnd());
  };
  float* dm;
  CK(cudaMalloc(&dm, 3 * sizeof(float)));
  for (size_t bytes = size_t(min_kb) << 10; bytes <= max_bytes; bytes *= 2) {
    std::vector<float> t, th;
    for (int r = 0; r < reps + 2; ++r) {
      CK(ncclAllReduce(one, one, 1, ncclFloat32, ncclMax, comm, st));  // line the ranks up
      CK(cudaEventRecord(e0, st));
      if (detail) CK(cudaEventSynchronize(e0));  // the host clock starts after the line-up
      const auto h0 = std::chrono::steady_clock::now();
      exchange(bytes);
      CK(cudaEventRecord(e1, st));
      CK(cudaEventSynchronize(e1));
      const double hms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - h0).count();
      float ms = 0;
      CK(cudaEventElapsedTime(&ms, e0, e1));
      if (r >= 2) {
        t.push_back(ms);
        th.push_back(float(hms));
      }
    }
    std::sort(t.begin(), t.end());
    std::sort(th.begin(), th.end());
    float med[3] = {t[t.size() / 2], th[th.size() / 2], 0};
    if (detail) {  // back to back: one line-up, then reps exchanges, time per exchange
      CK(ncclAllReduce(one, one, 1, ncclFloat32, ncclMax, comm, st));
      CK(cudaEventRecord(e0, st));
      for (int r = 0; r < reps; ++r) exchange(bytes);
      CK(cudaEventRecord(e1, st));
      CK(cudaEventSynchronize(e1));
      CK(cudaEventElapsedTime(&med[2], e0, e1));
      med[2] /= float(reps);
    }
    // The slowest rank's medians.
    CK(cudaMemcpy(dm, med, sizeof med, cudaMemcpyHostToDevice));
    CK(ncclAllReduce(dm, dm, 3, ncclFloat32, ncclMax, comm, st));
    CK(cudaStreamSynchronize(st));
    CK(cudaMemcpy(med, dm, sizeof med, cudaMemcpyDeviceToHost));
    if (rank == 0) {
      std::printf("%10zu %10.3f %12.2f %14.2f", bytes, med[0], double(bytes) * 8 / (med[0] * 1e-3) / 1e9,
                  double(bytes) * gpn * 8 / (med[0] * 1e-3) / 1e9);
      if (detail) std::printf(" %10.3f %12.3f", med[1], med[2]);
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  cudaFree(dm);
  ncclCommDestroy(comm);
  return 0;
}
