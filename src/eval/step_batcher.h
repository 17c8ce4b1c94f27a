// Batching::kBalanced (grace/evaluate.h): the tokens of each GPU's sequences wait in a queue per
// GPU, and a batch takes batch_tokens / GPUs of them (at least 1) from every GPU, as
// data-parallel attention runs every rank's own requests at each step. Memory: the queued
// tokens, which the pinning keeps within about one sequence per GPU; should one GPU's queue run
// ahead (one long sequence), batches take what the short queues have once GPUs x batch_tokens
// tokens wait.
#ifndef GRACE_EVAL_STEP_BATCHER_H_
#define GRACE_EVAL_STEP_BATCHER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "grace/trace.h"

namespace grace::eval {

class StepBatcher {
 public:
  // emit(ids, n, src, tok): one batch of n tokens, rows of `row` ids each (GPU by GPU, each GPU's
  // tokens in trace order), their source GPUs and global token indices.
  using Emit = std::function<void(const expert_t* ids, int64_t n, const int* src, const int64_t* tok)>;
  StepBatcher(int gpus, int64_t batch_tokens, size_t row, Emit emit);

  // Queues n tokens (rows at ids, source GPUs src, global indices first_token + i) and emits
  // every batch that is then due.
  void push(const expert_t* ids, int64_t n, const int* src, int64_t first_token);
  // Emits what is left: one batch once it is <= batch_tokens, before that steps as above.
  void finish();

 private:
  struct Queue {
    std::vector<expert_t> ids;
    std::vector<int64_t> tok;
    size_t head = 0;  // tokens already taken
    int64_t size() const { return int64_t(tok.size() - head); }
  };
  // One batch of up to `take` tokens from every GPU.
  void step(int64_t take);

  int64_t batch_tokens_, per_gpu_, queued_ = 0;
  size_t row_;
  Emit emit_;
  std::vector<Queue> q_;
  std::vector<expert_t> ids_;  // the batch being emitted
  std::vector<int> src_;
  std::vector<int64_t> tok_;
};

}  // namespace grace::eval

#endif  // GRACE_EVAL_STEP_BATCHER_H_
