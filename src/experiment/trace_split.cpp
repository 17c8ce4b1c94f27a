// split_even_odd, split_halves and the split rule's names (see trace_split.h, grace/experiment.h).
#include "experiment/trace_split.h"

#include <algorithm>

#include "grace/error.h"
#include "grace/experiment.h"

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

TraceSplit split_halves(const std::vector<int64_t>& off, const std::vector<int64_t>& src, const std::string& source) {
  TraceSplit s;
  for (size_t t = 0; t + 1 < src.size(); ++t) {
    // This trace's sequences: offsets [first, last] (a sequence never spans two traces).
    const auto first = size_t(std::lower_bound(off.begin(), off.end(), src[t]) - off.begin());
    const auto last = size_t(std::lower_bound(off.begin(), off.end(), src[t + 1]) - off.begin());
    GRACE_CHECK(last < off.size() && off[first] == src[t] && off[last] == src[t + 1],
                "trace {} of {}: sequences do not line up with its tokens", t, source);
    const size_t seqs = last - first;
    if (seqs == 0) continue;  // a trace of no tokens
    if (seqs == 1) {          // one sequence: halves of its tokens
      const int64_t b = off[first], e = off[last], mid = b + (e - b) / 2;
      s.by_sequence = false;
      if (mid > b) s.plan.emplace_back(b, mid);
      s.eval.emplace_back(mid, e);
      continue;
    }
    const size_t cut = first + seqs / 2;
    for (size_t i = first; i < last; ++i) (i < cut ? s.plan : s.eval).emplace_back(off[i], off[i + 1]);
  }
  GRACE_INPUT_CHECK(!s.plan.empty() && !s.eval.empty(),
                    "trace {} is too small to plan on its first half and evaluate on its second "
                    "(needs two sequences or two tokens in a trace)",
                    source);
  return s;
}

TraceSplitRule parse_split_rule(const std::string& name) {
  if (name == "even-odd") return TraceSplitRule::kEvenOdd;
  if (name == "halves") return TraceSplitRule::kHalves;
  fail_input("unknown split '{}' (valid: even-odd, halves)", one_line(name));
}

const char* split_rule_name(TraceSplitRule r) { return r == TraceSplitRule::kHalves ? "halves" : "even-odd"; }

}  // namespace grace
