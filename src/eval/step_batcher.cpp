// Balanced batches over per-GPU queues (step_batcher.h).
#include "eval/step_batcher.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace grace::eval {

StepBatcher::StepBatcher(int gpus, int64_t batch_tokens, size_t row, Emit emit)
    : batch_tokens_(batch_tokens),
      per_gpu_(std::max<int64_t>(1, batch_tokens / std::max(1, gpus))),
      row_(row),
      emit_(std::move(emit)),
      q_(size_t(std::max(1, gpus))) {}

void StepBatcher::push(const expert_t* ids, int64_t n, const int* src, int64_t first_token) {
  for (int64_t t = 0; t < n; ++t) {
    Queue& q = q_[size_t(src[t])];
    q.ids.insert(q.ids.end(), ids + size_t(t) * row_, ids + size_t(t + 1) * row_);
    q.tok.push_back(first_token + t);
  }
  queued_ += n;
  const int64_t G = int64_t(q_.size());
  for (;;) {
    bool full = true;
    for (const Queue& q : q_) full = full && q.size() >= per_gpu_;
    if (full)
      step(per_gpu_);
    else if (queued_ >= G * batch_tokens_)
      step(per_gpu_);  // a short queue would hold the others back: take what it has
    else
      break;
  }
}

void StepBatcher::finish() {
  while (queued_ > 0) step(queued_ <= batch_tokens_ ? std::numeric_limits<int64_t>::max() : per_gpu_);
}

void StepBatcher::step(int64_t take) {
  ids_.clear(), src_.clear(), tok_.clear();
  for (size_t g = 0; g < q_.size(); ++g) {
    Queue& q = q_[g];
    const int64_t m = std::min(take, q.size());
    ids_.insert(ids_.end(), q.ids.begin() + ptrdiff_t(q.head * row_), q.ids.begin() + ptrdiff_t((q.head + m) * row_));
    tok_.insert(tok_.end(), q.tok.begin() + ptrdiff_t(q.head), q.tok.begin() + ptrdiff_t(q.head + m));
    src_.insert(src_.end(), size_t(m), int(g));
    q.head += size_t(m);
    if (q.head * 2 >= q.tok.size()) {  // drop the taken front now and then (amortised O(1))
      q.ids.erase(q.ids.begin(), q.ids.begin() + ptrdiff_t(q.head * row_));
      q.tok.erase(q.tok.begin(), q.tok.begin() + ptrdiff_t(q.head));
      q.head = 0;
    }
  }
  const int64_t n = int64_t(src_.size());
  queued_ -= n;
  if (n > 0) emit_(ids_.data(), n, src_.data(), tok_.data());
}

}  // namespace grace::eval
