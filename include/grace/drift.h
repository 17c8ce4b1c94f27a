// drift: what `grace drift` measured on a routing stream cut into windows (made by run_drift in
// grace/drift_run.h, docs/replan.md), and its renderings: the plain-text table, one JSON object,
// and an HTML page with SVG charts. This header is the report layer's (src/report); it only
// renders what the experiment layer measured.
#ifndef GRACE_DRIFT_H_
#define GRACE_DRIFT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "grace/model.h"
#include "grace/topology.h"

namespace grace {

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
  int threads = 0;  // profiling and planning threads of every re-plan (PlanOptions::threads); 0: the cores
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

struct DriftWindow {
  int64_t first_token = 0;
  bool has_replan = false;        // false for the first window
  WindowCost current, replanned;  // P, and the re-plan made on the previous window (out of sample)
  MoveCost move;
  double saved_bytes_per_batch = 0;  // cross-node, both directions
  double payback_batches = -1;       // < 0: never (no saving)
  bool pays = false;                 // payback within the horizon
};

// One online strategy replayed over the stream (grace/drift_run.h names them).
struct StrategyResult {
  std::string name;
  std::vector<WindowCost> windows;  // out of sample
  std::vector<int64_t> moves;       // instances moved after each window
  int64_t replans = 0, total_moves = 0;
  double moved_bytes = 0, inter_bytes = 0, load_max_mean = 0;  // totals; load: token-weighted mean
};

struct DriftReport {
  std::string placement;  // as given (printed)
  DriftOptions options;
  ModelSpec model;
  Topology topo;
  std::vector<DriftWindow> windows;
  std::vector<StrategyResult> strategies;
};

std::string drift_text(const DriftReport& r);
std::string drift_json(const DriftReport& r);
std::string drift_html(const DriftReport& r);

}  // namespace grace

#endif  // GRACE_DRIFT_H_
