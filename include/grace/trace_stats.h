// The statistics that characterise a routing trace (the ones ../shared/data/README.md lists),
// used by `grace trace stats` and by the test that keeps the synthetic generator realistic.
#ifndef GRACE_TRACE_STATS_H_
#define GRACE_TRACE_STATS_H_

#include <cstdint>
#include <string>

#include "grace/trace.h"

namespace grace {

struct TraceStats {
  int64_t tokens = 0;
  int64_t seqs = 0;
  int num_layers = 0;
  int num_experts = 0;
  int top_k = 0;
  double load_max_mean_median = 0;     // per layer max/mean expert load, median over layers
  double gini_median = 0;              // per layer Gini of expert loads, median over layers
  int64_t window_tokens = 512;
  double window_max_mean_median = 0;   // max/mean in windows of window_tokens, median
  double window_max_mean_p90 = 0;      // ... and 90th percentile
  double hot_pair_share = 0;           // share of expert pairs co-activated > 2x chance
  double successor_lift = 0;           // best next-layer successor prob / marginal, median
  double consecutive_overlap = 0;      // share of experts a token shares with the previous
                                       // token of its sequence, mean over layers
};

// Computes the statistics over a whole in-memory trace.
TraceStats compute_trace_stats(const Trace& trace, int64_t window_tokens = 512);

// Human-readable table, and a JSON object (one line), for `grace trace stats`.
std::string format_trace_stats(const TraceStats& s);
std::string trace_stats_json(const TraceStats& s);

}  // namespace grace

#endif  // GRACE_TRACE_STATS_H_
