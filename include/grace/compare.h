// compare: the result of running a set of (planner, router, comm) combinations on one trace,
// out of sample (made by run_compare in grace/experiment.h), and its renderings: the plain-text
// table, report.md, report.html (self-contained: inline CSS and SVG charts, no script, no
// external resource) and results.json, each written atomically. This header is the report
// layer's (src/report); it only renders what the experiment layer measured.
#ifndef GRACE_COMPARE_H_
#define GRACE_COMPARE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "grace/evaluate.h"
#include "grace/simulate.h"

namespace grace {

struct Combination {
  std::string planner;
  std::string router;
  CommScheme comm = CommScheme::kFlat;
  std::string label() const;  // "planner/router/comm"
};

struct CompareRow {
  Combination combo;
  bool ok = false;
  std::string skipped;                   // why, when !ok
  double plan_seconds = 0;
  int replicas = 0;                      // instances beyond one per expert, all layers
  // Per batch, dispatch direction (combine moves as much back), all MoE layers, in MB (1e6 B).
  double inter_mb_per_batch = 0, intra_mb_per_batch = 0;
  double inter_bytes_per_token = 0, intra_bytes_per_token = 0;
  double load_max_mean = 0;              // GPU load max/mean, mean over (batch, layer)
  double share_same_gpu = 0, share_same_node = 0, share_remote = 0;  // of token-expert pairs
  LayerTime time;                        // one MoE layer of one batch (mean over layers)
  double speedup = 0, speedup_overlap = 0;  // baseline time / this time
  std::vector<double> inter_mb_per_layer, intra_mb_per_layer;  // [layer], per batch
  std::vector<LayerTime> time_per_layer;                       // [layer]
  std::vector<std::vector<double>> gpu_load;  // [layer][gpu]: mean over batches of pairs / mean
};

struct CompareResult {
  std::string model;
  std::string topology;
  std::string compute_model;             // the simulator's compute model (topology.h)
  int nodes = 0, gpus_per_node = 0, num_layers = 0, num_experts = 0, top_k = 0;
  std::string trace_source;              // what was evaluated
  std::string plan_source;               // what was planned on (the split)
  int64_t eval_tokens = 0, plan_tokens = 0, eval_seqs = 0, plan_seqs = 0;
  int64_t batch_tokens = 0;
  int64_t num_batches = 0;
  uint64_t seed = 0;
  int baseline = -1;                     // row the speedups are relative to (-1: none ran)
  std::vector<CompareRow> rows;
};

std::string format_compare_table(const CompareResult& r);  // plain-text table (stdout)
std::string compare_markdown(const CompareResult& r);
std::string compare_html(const CompareResult& r);
std::string compare_json(const CompareResult& r);

// Writes dir/report.md, dir/report.html and dir/results.json (creates dir; atomic writes).
void write_compare_reports(const CompareResult& r, const std::string& dir);

}  // namespace grace

#endif  // GRACE_COMPARE_H_
