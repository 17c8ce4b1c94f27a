// select_sequences / split_even_odd (see trace_split.h).
#include "experiment/trace_split.h"

#include "grace/error.h"

namespace grace {

Trace select_sequences(const Trace& t, const std::vector<int64_t>& seqs) {
  Trace out;
  out.num_layers = t.num_layers;
  out.top_k = t.top_k;
  out.num_experts = t.num_experts;
  out.seq_offsets.push_back(0);
  const int64_t row = int64_t(t.num_layers) * t.top_k;
  for (int64_t s : seqs) {
    GRACE_CHECK(s >= 0 && s < t.num_seqs(), "sequence {} of {}", s, t.num_seqs());
    int64_t a = t.seq_offsets[s], b = t.seq_offsets[s + 1];
    out.ids.insert(out.ids.end(), t.ids.begin() + a * row, t.ids.begin() + b * row);
    if (t.has_weights()) out.weights.insert(out.weights.end(), t.weights.begin() + a * row, t.weights.begin() + b * row);
    out.seq_offsets.push_back(out.seq_offsets.back() + (b - a));
  }
  return out;
}

TraceSplit split_even_odd(const Trace& t) {
  TraceSplit s;
  if (t.num_seqs() >= 2) {
    std::vector<int64_t> even, odd;
    for (int64_t i = 0; i < t.num_seqs(); ++i) (i % 2 ? odd : even).push_back(i);
    s.plan = select_sequences(t, even);
    s.eval = select_sequences(t, odd);
    return s;
  }
  // One sequence (or none): halves of the token range.
  s.by_sequence = false;
  Trace whole = t;
  if (whole.seq_offsets.empty()) whole.seq_offsets = {0, t.num_tokens()};
  int64_t n = t.num_tokens(), half = n / 2;
  Trace halves = whole;
  halves.seq_offsets = {0, half, n};
  s.plan = select_sequences(halves, {0});
  s.eval = select_sequences(halves, {1});
  return s;
}

}  // namespace grace
