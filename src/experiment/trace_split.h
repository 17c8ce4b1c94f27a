// Cutting a trace into the part a plan is made on and the part it is judged on, as token ranges
// for TraceReader::select_ranges (so neither part is copied into memory). Internal to the
// experiment module.
#ifndef GRACE_EXPERIMENT_TRACE_SPLIT_H_
#define GRACE_EXPERIMENT_TRACE_SPLIT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace grace {

// Even-indexed sequences (plan) and odd-indexed ones (evaluate), each a [begin, end) token
// range of the trace. A trace of fewer than two sequences is cut in two halves of its tokens
// instead (first half plans). Throws InputError naming `source` when a part would be empty.
struct TraceSplit {
  std::vector<std::pair<int64_t, int64_t>> plan, eval;
  bool by_sequence = true;
};
TraceSplit split_even_odd(const std::vector<int64_t>& seq_offsets, const std::string& source);

// The earlier and the later traffic of each trace given: of a trace's n sequences the first
// n / 2 plan and the rest are evaluated; a trace of one sequence is cut in two halves of its
// tokens (a trace of one token is evaluated only). source_offsets: TraceReader::source_offsets.
// Throws InputError naming `source` when a part would be empty.
TraceSplit split_halves(const std::vector<int64_t>& seq_offsets, const std::vector<int64_t>& source_offsets,
                        const std::string& source);

}  // namespace grace

#endif  // GRACE_EXPERIMENT_TRACE_SPLIT_H_
