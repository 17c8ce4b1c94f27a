// Source pinning of sequences to GPUs (grace/token_pinning.h).
#include "grace/token_pinning.h"

#include <algorithm>

namespace grace {

void SequencePinning::assign(const Trace& trace, int64_t begin, int64_t end, int* src) {
  const auto& off = trace.seq_offsets;
  const int64_t nseq = off.size() >= 2 ? int64_t(off.size()) - 1 : 1;
  // The sequence holding `begin`: the last s with off[s] <= begin.
  int64_t s = 0;
  if (off.size() >= 2)
    s = std::max<int64_t>(0, int64_t(std::upper_bound(off.begin(), off.end() - 1, begin) - off.begin()) - 1);
  for (int64_t t = begin; t < end; ++t) {
    while (off.size() >= 2 && s + 1 < nseq && off[size_t(s + 1)] <= t) ++s;
    const int64_t seq = trace.first_seq + s;
    if (seq != cur_seq_) {  // a new sequence: the GPU with the fewest tokens so far
      cur_seq_ = seq;
      cur_gpu_ = int(std::min_element(tokens_.begin(), tokens_.end()) - tokens_.begin());
    }
    src[t - begin] = cur_gpu_;
    ++tokens_[size_t(cur_gpu_)];
  }
}

}  // namespace grace
