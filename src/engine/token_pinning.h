// Source pinning: which rank (GPU) holds each token, as data-parallel attention does and as the
// evaluator counts it. A sequence is pinned, at its first token, to the GPU with the fewest
// tokens so far (ties: lowest id); all its tokens live there, across batch boundaries.
#ifndef GRACE_ENGINE_TOKEN_PINNING_H_
#define GRACE_ENGINE_TOKEN_PINNING_H_

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "grace/trace.h"

namespace grace::engine {

class TokenPinning {
 public:
  explicit TokenPinning(int num_gpus) : tokens_(size_t(num_gpus), 0) {}
  // Writes src[t - begin] for tokens [begin, end) of `trace` (chunk-relative indices).
  // REQUIRES: calls cover the trace in order.
  void assign(const Trace& trace, int64_t begin, int64_t end, int* src);

 private:
  std::vector<int64_t> tokens_;               // tokens pinned to each GPU so far
  std::unordered_map<int64_t, int> seq_gpu_;  // sequence -> GPU
  int64_t seq_ = 0;                           // sequence of the next token
};

}  // namespace grace::engine

#endif  // GRACE_ENGINE_TOKEN_PINNING_H_
