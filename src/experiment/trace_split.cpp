// split_even_odd (see trace_split.h).
#include "experiment/trace_split.h"

#include "grace/error.h"

namespace grace {

TraceSplit split_even_odd(const std::vector<int64_t>& off, const std::string& source) {
  TraceSplit s;
  const int64_t seqs = int64_t(off.size()) - 1, tokens = off.empty() ? 0 : off.back();
  if (seqs >= 2) {
    for (int64_t i = 0; i < seqs; ++i) (i % 2 ? s.eval : s.plan).emplace_back(off[size_t(i)], off[size_t(i) + 1]);
    return s;
  }
  // One sequence: halves of the token range.
  GRACE_INPUT_CHECK(tokens >= 2,
                    "trace {} is too small to plan and evaluate on (needs at least two sequences or two tokens)",
                    source);
  s.by_sequence = false;
  s.plan = {{0, tokens / 2}};
  s.eval = {{tokens / 2, tokens}};
  return s;
}

}  // namespace grace
