// What `grace drift` computes (docs/replan.md), apart from printing: a routing stream cut into
// windows of W tokens, and per window
//   - the placement P against a re-plan of the previous window (grace/replan.h, from P, under a
//     budget: what re-planning at the window boundary gives), both replayed through the router
//     on the window (out of sample), and whether the re-plan pays back the expert bytes it moves
//     within a horizon of batches (move and traffic time from the topology's link bandwidths);
//   - optionally, online strategies: each window is replayed with the placement in force BEFORE
//     it (out of sample), then the strategy may re-plan on the window it has just seen.
#ifndef GRACE_APPS_DRIFT_RUN_H_
#define GRACE_APPS_DRIFT_RUN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "grace/model.h"
#include "grace/placement.h"
#include "grace/topology.h"
#include "grace/trace.h"

namespace grace::cli {

struct DriftOptions {
  int64_t window = 4096;        // tokens per window
  int64_t batch_tokens = 4096;  // batch of the replay and of the payback horizon
  int64_t seq_tokens = 32;      // sequences are cut into pieces of at most this many tokens (source GPUs)
  double horizon = 100;         // batches within which a re-plan must pay back its moves
  int64_t max_moves = -1;       // re-plan budget (< 0: unbounded)
  // Break-even of every re-plan (ReplanOptions::min_visits_per_move; 0: off). `grace drift`
  // defaults it to move_break_even(model, horizon x batch_tokens): each move pays for its bytes
  // within the horizon.
  double min_visits_per_move = 0;
  std::string router = "cover";
  std::string comm = "hierarchical";
  std::string batching = "trace";  // grace/batching.h: trace | balanced
  uint64_t seed = 1;
};

struct WindowCost {
  double inter_bytes_per_token = 0;  // dispatch, per direction, summed over layers
  double intra_bytes_per_token = 0;
  double load_max_mean = 0;  // GPU load max/mean, mean over (batch, layer)
  int64_t tokens = 0;
};

// Moved instances split by where their weights can come from: the same node (NVLink) when the
// old placement has the expert on that node at that layer, else across nodes.
struct MoveCost {
  int64_t moves = 0, intra_moves = 0, inter_moves = 0;
  double bytes = 0, seconds = 0;
};
MoveCost move_cost(const Placement& from, const Placement& to, const ModelSpec& model, const Topology& topo);

// Seconds to carry `bytes` of cross-node traffic (all GPUs or NICs in parallel).
double inter_seconds(double bytes, const Topology& topo);

struct DriftWindow {
  int64_t first_token = 0;
  bool has_replan = false;        // false for the first window
  WindowCost current, replanned;  // P, and the re-plan made on the previous window (out of sample)
  MoveCost move;
  double saved_bytes_per_batch = 0;  // cross-node, both directions
  double payback_batches = -1;       // < 0: never (no saving)
  bool pays = false;                 // payback within the horizon
};

using Progress = std::function<void(int done, int total)>;

// The stream's windows (the last, shorter one is dropped unless it is the only one).
std::vector<Trace> cut_windows(const Trace& stream, const DriftOptions& o);

WindowCost replay(const Trace& window, const Placement& p, const Topology& topo, const ModelSpec& model,
                  const DriftOptions& o);

std::vector<DriftWindow> run_drift(const std::vector<Trace>& windows, const Placement& p, const Topology& topo,
                                   const ModelSpec& model, const DriftOptions& o, const Progress& progress);

// Online strategies: "static", "eplb:K", "grace:K" (full re-plan every K windows, on the last
// window seen, aligned to the placement in force), "replan" (drift-triggered: a budgeted re-plan
// made on the first half of the window just seen is judged on its second half; when it pays back
// within the horizon there, the budgeted re-plan of the whole window is adopted).
struct StrategyResult {
  std::string name;
  std::vector<WindowCost> windows;  // out of sample
  std::vector<int64_t> moves;       // instances moved after each window
  int64_t replans = 0, total_moves = 0;
  double moved_bytes = 0, inter_bytes = 0, load_max_mean = 0;  // totals; load: token-weighted mean
};
std::vector<StrategyResult> run_strategies(const std::vector<Trace>& windows, const Placement& p, const Topology& topo,
                                           const ModelSpec& model, const DriftOptions& o,
                                           const std::vector<std::string>& strategies, const Progress& progress);

// Full re-plans per window: 1 for the drift replay, + 1 for `replan`, + 1/K for `eplb:K` and
// `grace:K`, 0 for `static` (strategies already checked).
double replans_per_window(const std::vector<std::string>& strategies);
// Throws InputError unless every name is a strategy above.
// --strategies as given (each value may hold a comma-separated list): the entries, in order; an
// empty entry ("static,,replan") is an input error.
std::vector<std::string> split_strategies(const std::vector<std::string>& given);
void check_strategies(const std::vector<std::string>& strategies);

}  // namespace grace::cli

#endif  // GRACE_APPS_DRIFT_RUN_H_
