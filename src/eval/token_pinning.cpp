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
  // The GPUs with the fewest tokens as a bit set (up to 64 GPUs): between two new sequences
  // only the chosen GPU's count grows, so it leaves the set and the others stay; the set is
  // recounted when it runs empty. Its lowest bit is std::min_element's answer.
  const int G = int(tokens_.size());
  uint64_t fewest = 0;
  auto recount = [&] {
    const int64_t mn = *std::min_element(tokens_.begin(), tokens_.end());
    fewest = 0;
    for (int g = 0; g < G; ++g) fewest |= uint64_t(tokens_[size_t(g)] == mn) << g;
  };
  bool counted = false;
  for (int64_t t = begin; t < end; ++t) {
    while (off.size() >= 2 && s + 1 < nseq && off[size_t(s + 1)] <= t) ++s;
    const int64_t seq = trace.first_seq + s;
    if (seq != cur_seq_) {  // a new sequence: the GPU with the fewest tokens so far
      if (G > 64) {
        cur_gpu_ = int(std::min_element(tokens_.begin(), tokens_.end()) - tokens_.begin());
      } else {
        if (counted) fewest &= ~(uint64_t(1) << cur_gpu_);  // it took a token since
        if (!counted || fewest == 0) recount(), counted = true;
        cur_gpu_ = __builtin_ctzll(fewest);
      }
      cur_seq_ = seq;
    }
    src[t - begin] = cur_gpu_;
    ++tokens_[size_t(cur_gpu_)];
  }
}

}  // namespace grace
