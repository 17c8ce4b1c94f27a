// The statistics that characterise a routing trace (the ones ../shared/data/README.md lists),
// used by `grace trace stats` and by the test that keeps the synthetic generator realistic.
#ifndef GRACE_TRACE_STATS_H_
#define GRACE_TRACE_STATS_H_

#include <cstdint>
#include <string>

#include "grace/trace.h"

namespace grace {

// Definitions (L layers, E experts, k ids per token and layer; load_l[e] = tokens that chose
// expert e at layer l; T tokens):
//   load_max_mean  per layer max_e load_l[e] / mean_e load_l[e]; median over layers.
//   gini           per layer Gini coefficient of load_l[0..E); median over layers.
//   window_*       the trace is cut, in order, into consecutive windows of window_tokens tokens
//                  (a shorter tail is dropped unless it is the only window); per (window, layer)
//                  max/mean load; median and 90th percentile (linear interpolation) over all
//                  (window, layer) samples.
//   hot_pair_share share of expert pairs (i < j), over all layers, whose co-activation count
//                  C_l[i][j] (tokens choosing both at layer l) exceeds 2 x load_l[i] load_l[j] / T,
//                  the count expected if the two were chosen independently with their marginals.
//   successor_lift for each layer l < L-1 and expert e with load_l[e] >= 50: the best successor's
//                  lift max_{e'} P(e' at l+1 | e at l) / P(e' at l+1), over e' with
//                  load_{l+1}[e'] >= 50; median over those (layer, expert). 0 if none qualify.
//   consecutive_overlap  for each pair of consecutive tokens of one sequence and each layer,
//                  |S_t intersect S_{t-1}| / k; mean over all such (pair, layer).
// All are sums over the trace, so they depend on its length only through sampling noise.
struct TraceStats {
  int64_t tokens = 0;
  int64_t seqs = 0;
  int num_layers = 0;
  int num_experts = 0;
  int top_k = 0;
  double load_max_mean_median = 0;  // per layer max/mean expert load, median over layers
  double gini_median = 0;           // per layer Gini of expert loads, median over layers
  int64_t window_tokens = 512;
  double window_max_mean_median = 0;  // max/mean in windows of window_tokens, median
  double window_max_mean_p90 = 0;     // ... and 90th percentile
  double hot_pair_share = 0;          // share of expert pairs co-activated > 2x chance
  double successor_lift = 0;          // best next-layer successor prob / marginal, median
  double consecutive_overlap = 0;     // share of experts a token shares with the previous
                                      // token of its sequence, mean over layers
};

// Minimum number of tokens behind an expert for it to enter successor_lift.
inline constexpr int64_t kSuccessorMinSupport = 50;

// Computes the statistics over a whole in-memory trace (num_experts 0: max id + 1).
// REQUIRES: window_tokens > 0.
TraceStats compute_trace_stats(const Trace& trace, int64_t window_tokens = 512);

// The same, streamed from a reader in chunks of chunk_tokens (two passes: the first finds the
// expert count and validates every id, the second sums). Memory: one chunk plus the pair tables,
// 2 x layers x experts^2 x 8 bytes (InputError when that is over the memory limit,
// core/cost_limits.h), independent of the trace's length. Identical results to the in-memory
// version.
class TraceReader;
TraceStats compute_trace_stats(TraceReader& reader, int64_t window_tokens = 512, int64_t chunk_tokens = 65536);

// Human-readable table, and a JSON object (one line), for `grace trace stats`.
std::string format_trace_stats(const TraceStats& s);
std::string trace_stats_json(const TraceStats& s);

}  // namespace grace

#endif  // GRACE_TRACE_STATS_H_
