// RowRunner: one combination from plan to simulated time (see row_runner.h).
#include "experiment/row_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "grace/evaluate.h"
#include "grace/expert_memory.h"
#include "grace/planner.h"
#include "grace/router.h"
#include "grace/simulate.h"
#include "grace/trace_io.h"

namespace grace::experiment {
namespace {

std::string join(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void fill_stats(CompareRow& row, const EvalResult& e, const SimResult& s, int G) {
  const double nb = std::max<int64_t>(1, e.num_batches);
  const double tb = double(e.token_bytes);
  row.inter_mb_per_batch = double(e.total.inter_copies) * tb / nb / 1e6;
  row.intra_mb_per_batch = double(e.total.intra_copies) * tb / nb / 1e6;
  row.inter_bytes_per_token = e.inter_bytes_per_token();
  row.intra_bytes_per_token = e.intra_bytes_per_token();
  row.load_max_mean = e.total.samples ? e.total.load_max_mean_sum / double(e.total.samples) : 0;
  row.nic_max_mean = EvalResult::nic_max_mean(e.total, e.num_nodes);
  double pairs = double(std::max<int64_t>(1, e.total.pairs));
  row.share_same_gpu = double(e.total.pairs_same_gpu) / pairs;
  row.share_same_node = double(e.total.pairs_same_node) / pairs;
  row.share_remote = double(e.total.pairs_remote) / pairs;
  row.time = s.mean_layer;
  row.time_per_layer = s.per_layer;
  for (const auto& l : e.per_layer) {
    row.inter_mb_per_layer.push_back(double(l.inter_copies) * tb / nb / 1e6);
    row.intra_mb_per_layer.push_back(double(l.intra_copies) * tb / nb / 1e6);
  }
  row.gpu_load.assign(e.num_layers, std::vector<double>(G, 0.0));
  std::vector<int64_t> count(e.num_layers, 0);
  for (const auto& rec : e.records) {
    int64_t sum = 0;
    for (int64_t p : rec.gpu_pairs) sum += p;
    if (sum == 0 || rec.layer >= e.num_layers) continue;
    double mean = double(sum) / G;
    for (int g = 0; g < G; ++g) row.gpu_load[rec.layer][g] += double(rec.gpu_pairs[g]) / mean;
    ++count[rec.layer];
  }
  for (int l = 0; l < e.num_layers; ++l)
    for (auto& v : row.gpu_load[l]) v = count[l] ? v / double(count[l]) : 0.0;
}

}  // namespace

const RowRunner::Plan& RowRunner::plan(const std::string& planner, int redundant, const std::string& target) {
  auto key = std::make_tuple(planner, redundant, target);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  auto t0 = std::chrono::steady_clock::now();
  PlanOptions popt = plan_options_;
  popt.redundant_slots = redundant;
  if (!target.empty()) popt.target_router = target;
  Plan p;
  p.placement = make_planner(planner)->plan(PlanContext{in_.profile, in_.model, in_.topo, popt});
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return plans_.emplace(key, std::move(p)).first->second;
}

CompareRow RowRunner::run(const Combination& combo, int64_t* num_batches) {
  CompareRow row;
  row.combo = combo;
  const auto planners = planner_names();
  const auto routers = router_names();
  if (!contains(planners, combo.planner)) {
    row.skipped = fmt::format("planner '{}' is not available (have: {})", combo.planner, join(planners));
    return row;
  }
  if (!contains(routers, combo.router)) {
    row.skipped = fmt::format("router '{}' is not available (have: {})", combo.router, join(routers));
    return row;
  }
  if (!combo.target.empty() && !contains(routers, combo.target)) {
    row.skipped = fmt::format("target router '{}' is not available (have: {})", combo.target, join(routers));
    return row;
  }
  const Plan& pl = plan(combo.planner, combo.redundant, combo.target);
  const Placement& p = pl.placement;
  row.plan_seconds = pl.seconds;
  for (int l = 0; l < p.num_layers; ++l) row.replicas += p.num_instances(l) - p.num_experts;
  const ExpertMemory mem = expert_memory(p);
  row.instances_per_gpu = mem.instances_per_gpu;
  row.extra_memory_pct = mem.extra_pct;
  EvalOptions eopt;
  eopt.batch_tokens = batch_tokens_;
  eopt.batching = batching_;
  eopt.comm = combo.comm;
  eopt.router = combo.router;
  eopt.seed = plan_options_.seed;  // the routers' draws share the planners' seed
  eopt.keep_records = true;
  in_.eval->rewind();  // the evaluated part is streamed again for every row
  EvalResult e = evaluate(*in_.eval, p, in_.topo, in_.model, eopt);
  SimResult s = simulate(e, in_.topo, in_.model);
  if (num_batches) *num_batches = e.num_batches;
  fill_stats(row, e, s, in_.topo.num_gpus());
  row.ok = true;
  return row;
}

}  // namespace grace::experiment
