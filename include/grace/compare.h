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
  // Replica budget: extra expert slots over the cluster (PlanOptions::redundant_slots);
  // -1: the planner's default (one per GPU).
  int redundant = -1;
  // The router the plan is made for (PlanOptions::target_router); empty: the planner's default
  // (`cover`). Only grace's planner looks at it.
  std::string target{};
  // "planner/router/comm", plus " (redundant N)" when the budget is set and " (for T)" when the
  // target is.
  std::string label() const;
};

// Baselines are the planners that are not grace's own (names not starting with "grace").
bool is_baseline_planner(const std::string& planner);

struct CompareRow {
  Combination combo;
  bool ok = false;
  std::string skipped;  // why, when !ok
  double plan_seconds = 0;
  int replicas = 0;  // instances beyond one per expert, all layers
  // Per batch, dispatch direction (combine moves as much back), all MoE layers, in MB (1e6 B).
  double inter_mb_per_batch = 0, intra_mb_per_batch = 0;
  double inter_bytes_per_token = 0, intra_bytes_per_token = 0;
  double load_max_mean = 0;  // GPU load max/mean, mean over (batch, layer)
  double nic_max_mean = 0;   // busiest node NIC over the mean (EvalResult::nic_max_mean), all batches and layers
  double share_same_gpu = 0, share_same_node = 0, share_remote = 0;  // of token-expert pairs
  LayerTime time;                                                    // one MoE layer of one batch (mean over layers)
  // Expert memory of the plan (grace/expert_memory.h): instances on the fullest GPU per layer,
  // and extra memory over one copy per expert, in %.
  double instances_per_gpu = 0, extra_memory_pct = 0;
  // Against the reference row (CompareResult::baseline, contiguous/primary/flat by default):
  double speedup = 0, speedup_overlap = 0;  // reference time / this time
  // Against the best baseline at the same memory and comm scheme: among the baseline rows
  // (is_baseline_planner) that ran with this row's comm scheme and no more expert memory
  // (instances_per_gpu) than this row, the fastest (MoE-layer time; with overlap: the fastest
  // with overlap) and the one with the least cross-node traffic. -1: none qualifies.
  int best_baseline = -1, best_baseline_overlap = -1, least_traffic_baseline = -1;
  double speedup_vs_best = 0, speedup_vs_best_overlap = 0;  // that row's time / this time
  double inter_vs_least = 0;  // this row's cross-node bytes / that row's (0: that row sends none)
  std::vector<double> inter_mb_per_layer, intra_mb_per_layer;  // [layer], per batch
  std::vector<LayerTime> time_per_layer;                       // [layer]
  std::vector<std::vector<double>> gpu_load;                   // [layer][gpu]: mean over batches of pairs / mean
};

// One point of the memory sweep: a combination planned with the replica budget that gives
// `requested_pct` % extra expert memory (redundant_slots_for_extra_pct).
struct SweepPoint {
  double requested_pct = 0;
  CompareRow row;  // row.combo.redundant is the budget used
};

struct CompareResult {
  std::string model;
  std::string topology;
  std::string compute_model;  // the simulator's compute model (topology.h)
  int nodes = 0, gpus_per_node = 0, num_layers = 0, num_experts = 0, top_k = 0;
  std::string trace_source;  // what was evaluated
  std::string plan_source;   // what was planned on (the split)
  int64_t eval_tokens = 0, plan_tokens = 0, eval_seqs = 0, plan_seqs = 0;
  int64_t batch_tokens = 0;
  Batching batching = Batching::kTrace;
  int64_t num_batches = 0;
  uint64_t seed = 0;
  int baseline = -1;  // row the speedups are relative to (-1: none ran)
  std::vector<CompareRow> rows;
  std::vector<SweepPoint> memory_sweep;  // empty unless the sweep was asked for
};

std::string format_compare_table(const CompareResult& r);  // plain-text table (stdout)
std::string compare_markdown(const CompareResult& r);
std::string compare_html(const CompareResult& r);
std::string compare_json(const CompareResult& r);

// Writes dir/report.md, dir/report.html and dir/results.json. The folder appears whole or not at
// all (core/staged_dir.h: staged beside it, renamed into place; missing parents created). An
// existing folder is replaced only when it holds nothing but these names, else InputError.
void write_compare_reports(const CompareResult& r, const std::string& dir);
// The names write_compare_reports writes (check an output folder with them before the work).
const std::vector<std::string>& compare_report_names();

}  // namespace grace

#endif  // GRACE_COMPARE_H_
