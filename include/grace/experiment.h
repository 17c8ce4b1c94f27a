// experiment: plans, routes, evaluates and simulates a set of (planner, router, comm)
// combinations on one trace, out of sample, into a CompareResult (grace/compare.h renders it).
//
// Input: the given traces, or the model's built-in synthetic trace (synth.h). Planning uses the
// plan traces when given; otherwise the evaluated trace is split by sequence (TraceSplitRule):
// even-indexed sequences plan and odd-indexed ones are evaluated, or the earlier half of each
// trace's sequences plans and the later half is evaluated (a single-sequence trace is split in
// halves of its tokens), so every figure is out of sample. The result says which split was used.
#ifndef GRACE_EXPERIMENT_H_
#define GRACE_EXPERIMENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "grace/compare.h"

namespace grace {

// How a trace without --plan-trace is cut into the planning and the evaluated traffic.
//   kEvenOdd: even-indexed sequences plan, odd-indexed ones are evaluated (the same mix of
//             traffic on both sides: the split of every table in the README).
//   kHalves:  of each trace given, the first half of its sequences plans and the second half is
//             evaluated: a plan made on earlier traffic serves later traffic, as in deployment
//             (where a trace's sequences are ordered by topic, as GPT-OSS-20B's MMLU subjects
//             are, the later half is also other topics).
enum class TraceSplitRule { kEvenOdd, kHalves };
TraceSplitRule parse_split_rule(const std::string& name);  // "even-odd" | "halves"; InputError otherwise
const char* split_rule_name(TraceSplitRule r);

// contiguous/primary/flat (the reference), eplb/round-robin/flat, eplb/wrr/flat,
// eplb/tar/hierarchical, uniform-affinity/primary/hierarchical,
// uniform-affinity+replicas/cover/hierarchical (grace's replica budget, grace's router),
// grace-paper/tar/hierarchical, grace/tar/hierarchical, grace/cover/hierarchical,
// grace/cover/hierarchical at redundant 0 (uniform-affinity's memory).
std::vector<Combination> default_combinations();

// The memory sweep's default combinations: grace/cover/hierarchical and eplb/tar/hierarchical.
std::vector<Combination> default_sweep_combinations();

struct CompareOptions {
  std::vector<std::string> traces;       // empty: the model's synthetic trace
  std::vector<std::string> plan_traces;  // empty: the trace is split by `split`
  TraceSplitRule split = TraceSplitRule::kEvenOdd;
  std::string model;  // preset or JSON; empty: inferred from the trace's shape
                      //   (deepseek-v2-lite for the synthetic trace)
  std::string topology = "2x4";
  int64_t batch_tokens = 4096;
  Batching batching = Batching::kTrace;  // how tokens form batches (grace/evaluate.h)
  uint64_t seed = 0;
  int64_t synth_tokens = 32768;           // size of the synthetic trace
  std::vector<Combination> combinations;  // empty: default_combinations()
  // Memory-traffic trade-off: each sweep combination planned at each extra-memory level (their
  // own `redundant` is replaced), evaluated and simulated like the rows.
  bool sweep_memory = false;
  std::vector<double> sweep_pcts = {0, 12.5, 25, 50, 100};  // % extra expert memory
  std::vector<Combination> sweep_combinations;              // empty: default_sweep_combinations()
  // Study only, never a result (PM_CEILING=1 scripts/planner-matrix.sh): plan on the very traffic that is
  // evaluated (the odd-indexed sequences, or the whole --trace), i.e. with foresight of it: an
  // upper bound on what planning from a profile of that traffic can reach.
  bool foresight = false;
  double node_load_limit = -1;  // PlanOptions::node_load_limit for every row
  int node_kicks = -1;          // PlanOptions::node_kicks for every row
  int threads = 0;              // profiling and planning threads (PlanOptions::threads); 0: the cores
};

// Runs every combination (then the sweep, if asked); `progress` gets one line per combination
// and sweep point. Planners or routers that do not exist are skipped with a reason; bad inputs
// throw InputError. Rows with the same planner and budget share one plan.
CompareResult run_compare(const CompareOptions& options, const std::function<void(const std::string&)>& progress = {});

}  // namespace grace

#endif  // GRACE_EXPERIMENT_H_
