// Source pinning of sequences to GPUs (see token_pinning.h).
#include "engine/token_pinning.h"

#include <algorithm>

namespace grace::engine {

void TokenPinning::assign(const Trace& trace, int64_t begin, int64_t end, int* src) {
  const auto& off = trace.seq_offsets;
  for (int64_t t = begin; t < end; ++t) {
    int64_t s = 0;
    if (off.size() >= 2) {
      while (seq_ + 1 < int64_t(off.size()) - 1 && off[size_t(seq_ + 1)] <= t) ++seq_;
      s = seq_;
    }
    auto it = seq_gpu_.find(s);
    if (it == seq_gpu_.end()) {
      const int g = int(std::min_element(tokens_.begin(), tokens_.end()) - tokens_.begin());
      it = seq_gpu_.emplace(s, g).first;
    }
    src[t - begin] = it->second;
    ++tokens_[size_t(it->second)];
  }
}

}  // namespace grace::engine
