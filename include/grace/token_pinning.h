// Source pinning of sequences to GPUs: which GPU holds each token, as data-parallel attention
// does. A sequence is pinned, at its first token, to the GPU with the fewest tokens so far
// (ties: lowest id); all its tokens live there, across batch and chunk boundaries. One
// implementation for the evaluator (grace/evaluate.h) and the engine (grace/engine/engine.h),
// so both see the same token -> GPU map.
#ifndef GRACE_TOKEN_PINNING_H_
#define GRACE_TOKEN_PINNING_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "grace/trace.h"

namespace grace {

class SequencePinning {
 public:
  explicit SequencePinning(int num_gpus) : tokens_(size_t(num_gpus), 0) {}
  // Writes src[t - begin] for tokens [begin, end) of `trace` (indices into that trace). A
  // sequence is identified by trace.first_seq + its index in trace.seq_offsets, so a streamed
  // chunk continues the sequence the previous chunk ended in; a trace without offsets is one
  // sequence. REQUIRES: calls cover the tokens in order.
  void assign(const Trace& trace, int64_t begin, int64_t end, int* src);
  // Tokens pinned to each GPU so far.
  const std::vector<int64_t>& tokens() const { return tokens_; }

 private:
  std::vector<int64_t> tokens_;
  int64_t cur_seq_ = -1;
  int cur_gpu_ = 0;
};

}  // namespace grace

#endif  // GRACE_TOKEN_PINNING_H_
