// What `grace drift` computes (docs/replan.md), apart from printing (grace/drift.h): a routing
// stream cut into windows of W tokens, read one window at a time, and per window
//   - the placement P against a re-plan of the previous window (grace/replan.h, from P, under a
//     budget: what re-planning at the window boundary gives), both replayed through the router
//     on the window (out of sample), and whether the re-plan pays back the expert bytes it moves
//     within a horizon of batches (move and traffic time from the topology's link bandwidths);
//   - optionally, online strategies: each window is replayed with the placement in force BEFORE
//     it (out of sample), then the strategy may re-plan on the window it has just seen.
#ifndef GRACE_DRIFT_RUN_H_
#define GRACE_DRIFT_RUN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "grace/drift.h"
#include "grace/placement.h"
#include "grace/trace.h"

namespace grace {

class TraceReader;

MoveCost move_cost(const Placement& from, const Placement& to, const ModelSpec& model, const Topology& topo);

// Seconds to carry `bytes` of cross-node traffic (all GPUs or NICs in parallel).
double inter_seconds(double bytes, const Topology& topo);

// The windows a stream of `tokens` tokens is cut into: tokens / window (the last, shorter part is
// dropped), or 1 when the stream is shorter than a window.
int64_t drift_window_count(int64_t tokens, int64_t window);

// Tokens [a, b) of `s` as a trace of their own, each sequence further cut into pieces of at most
// seq_tokens tokens (the pieces start on different GPUs when replayed).
Trace window_trace(const Trace& s, int64_t a, int64_t b, int64_t seq_tokens);

WindowCost replay(const Trace& window, const Placement& p, const Topology& topo, const ModelSpec& model,
                  const DriftOptions& o);

using DriftProgress = std::function<void(int64_t done, int64_t total)>;

// Reads `stream` from its start, one window of o.window tokens at a time (memory: one window, the
// re-plans and the strategies' placements, whatever the stream's length), and fills `windows` and
// `strategies` (in the order given; names checked by check_strategies) of the result. The
// reader must hold at least one window; ids are checked against p's experts as it reads (an
// InputError there stops the run). Deterministic for o.seed.
struct DriftResult {
  std::vector<DriftWindow> windows;
  std::vector<StrategyResult> strategies;
};
DriftResult run_drift(TraceReader& stream, const Placement& p, const Topology& topo, const ModelSpec& model,
                      const DriftOptions& o, const std::vector<std::string>& strategies,
                      const DriftProgress& progress = {});

// Online strategies: "static", "eplb:K", "grace:K" (full re-plan every K windows, on the last
// window seen, aligned to the placement in force), "replan" (drift-triggered: a budgeted re-plan
// made on the first half of the window just seen is judged on its second half; when it pays back
// within the horizon there, the budgeted re-plan of the whole window is adopted).
//
// Full re-plans per window: 1 for the drift replay, + 1 for `replan`, + 1/K for `eplb:K` and
// `grace:K`, 0 for `static` (strategies already checked).
double replans_per_window(const std::vector<std::string>& strategies);
// --strategies as given (each value may hold a comma-separated list): the entries, in order; an
// empty entry ("static,,replan") is an input error.
std::vector<std::string> split_strategies(const std::vector<std::string>& given);
// Throws InputError unless every name is a strategy above, each given once.
void check_strategies(const std::vector<std::string>& strategies);
// K of "eplb:K" and "grace:K"; 0 for "static" and "replan". InputError for anything else.
int strategy_period(const std::string& strategy);

}  // namespace grace

#endif  // GRACE_DRIFT_RUN_H_
