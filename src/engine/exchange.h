// One sparse all-to-all stage of dispatch, and its reverse for combine.
//
// A row is a token copy: `hidden` F32 values followed by top_k routing entries
// {expert, gpu, weight}; an entry with expert < 0 is empty. dispatch() sends each input row
// once to every distinct peer among peer_of(entry.gpu) of its entries, carrying only the
// entries for that peer (a peer of -1 drops the entry). combine() sends one result vector per
// received row back along the same path and sums, per input row, the vectors of its copies.
// The ExchangePlan remembers the path (layouts and the source row of every sent copy): plan
// once in dispatch, reuse in combine.
#ifndef GRACE_ENGINE_EXCHANGE_H_
#define GRACE_ENGINE_EXCHANGE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/buffer_layout.h"
#include "grace/engine/comm.h"
#include "grace/engine/engine.h"

namespace grace::engine {

struct RouteEntry {
  int32_t expert = -1;
  int32_t gpu = -1;
  float weight = 0;
};

struct RowFormat {
  int64_t hidden = 0;
  int top_k = 0;
  size_t bytes() const { return size_t(hidden) * sizeof(float) + size_t(top_k) * sizeof(RouteEntry); }
  float* hidden_of(char* row) const { return reinterpret_cast<float*>(row); }
  const float* hidden_of(const char* row) const { return reinterpret_cast<const float*>(row); }
  RouteEntry* entries_of(char* row) const {
    return reinterpret_cast<RouteEntry*>(row + size_t(hidden) * sizeof(float));
  }
  const RouteEntry* entries_of(const char* row) const {
    return reinterpret_cast<const RouteEntry*>(row + size_t(hidden) * sizeof(float));
  }
};

// A growable buffer allocated through the comm (so a backend may pin or place it).
class CommBuffer {
 public:
  explicit CommBuffer(Comm& comm) : comm_(comm) {}
  ~CommBuffer() { comm_.free_buffer(data_); }
  CommBuffer(const CommBuffer&) = delete;
  CommBuffer& operator=(const CommBuffer&) = delete;
  char* reserve(size_t bytes);  // contents are not kept
  char* data() const { return data_; }

 private:
  Comm& comm_;
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

struct ExchangePlan {
  BufferLayout send, recv;        // in rows, per peer of the stage's comm
  std::vector<int64_t> send_src;  // [send rows] input row each copy came from
};

// world_rank_of(peer) maps the stage comm's peer to a world rank (for tier counting).
struct StageComm {
  Comm* comm = nullptr;
  std::function<int(int)> world_rank_of;
  int my_node = 0;
  int gpus_per_node = 1;
};

// Dispatch stage: input rows (n_in rows of format f at `in`) -> recv buffer (plan.recv rows).
// Adds the bytes and rows sent to other ranks into `counts`.
void dispatch_stage(const StageComm& sc, const RowFormat& f, const char* in, int64_t n_in,
                    const std::function<int(int)>& peer_of, ExchangePlan& plan, CommBuffer& send_buf,
                    CommBuffer& recv_buf, TierCounts& counts);

// Combine stage: results [plan.recv.total_rows][hidden] -> acc [n_in][hidden] (acc is
// overwritten: zero for input rows that sent nothing). Adds bytes/rows sent to `counts`.
// REQUIRES: results lies in memory from sc.comm->alloc_buffer (it is sent as it is).
void combine_stage(const StageComm& sc, int64_t hidden, const float* results, const ExchangePlan& plan, int64_t n_in,
                   float* acc, CommBuffer& recv_buf, TierCounts& counts);

}  // namespace grace::engine

#endif  // GRACE_ENGINE_EXCHANGE_H_
