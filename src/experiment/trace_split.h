// Cutting a trace into the part a plan is made on and the part it is judged on.
// Internal to the experiment module.
#ifndef GRACE_EXPERIMENT_TRACE_SPLIT_H_
#define GRACE_EXPERIMENT_TRACE_SPLIT_H_

#include <cstdint>
#include <vector>

#include "grace/trace.h"

namespace grace {

// The given sequences of `t` (global sequence indices, in the order given), concatenated into
// a new trace with its own offsets. Weights are kept when `t` has them.
Trace select_sequences(const Trace& t, const std::vector<int64_t>& seqs);

// Even-indexed sequences (plan) and odd-indexed ones (evaluate). A trace of fewer than two
// sequences is cut in two halves of its tokens instead (first half plans).
struct TraceSplit {
  Trace plan, eval;
  bool by_sequence = true;
};
TraceSplit split_even_odd(const Trace& t);

}  // namespace grace

#endif  // GRACE_EXPERIMENT_TRACE_SPLIT_H_
