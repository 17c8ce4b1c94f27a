// results.json, and writing the three report files atomically.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/staged_dir.h"
#include "grace/compare.h"
#include "grace/error.h"
#include "report/sweep_render.h"
#include "sim/layer_time_json.h"

namespace grace {
namespace {

nlohmann::json label_of(const CompareResult& r, int row) {
  return row >= 0 ? nlohmann::json(r.rows[row].combo.label()) : nlohmann::json();
}

}  // namespace

std::string compare_json(const CompareResult& r) {
  nlohmann::json j;
  j["model"] = r.model;
  j["topology"] = {
      {"name", r.topology}, {"nodes", r.nodes}, {"gpus_per_node", r.gpus_per_node}, {"compute_model", r.compute_model}};
  j["num_layers"] = r.num_layers;
  j["num_experts"] = r.num_experts;
  j["top_k"] = r.top_k;
  j["trace"] = {{"source", r.trace_source}, {"tokens", r.eval_tokens}, {"sequences", r.eval_seqs}};
  j["plan_trace"] = {{"source", r.plan_source}, {"tokens", r.plan_tokens}, {"sequences", r.plan_seqs}};
  j["batch_tokens"] = r.batch_tokens;
  j["batching"] = batching_name(r.batching);
  j["num_batches"] = r.num_batches;
  j["seed"] = r.seed;
  j["baseline"] = r.baseline >= 0 ? nlohmann::json(r.rows[r.baseline].combo.label()) : nlohmann::json();
  j["rows"] = nlohmann::json::array();
  for (const auto& row : r.rows) {
    nlohmann::json x = {
        {"planner", row.combo.planner},     {"router", row.combo.router}, {"comm", comm_scheme_name(row.combo.comm)},
        {"redundant", row.combo.redundant}, {"label", row.combo.label()}, {"ok", row.ok}};
    if (!row.ok) {
      x["skipped"] = row.skipped;
    } else {
      x["plan_seconds"] = row.plan_seconds;
      x["replicas"] = row.replicas;
      x["inter_mb_per_batch"] = row.inter_mb_per_batch;
      x["intra_mb_per_batch"] = row.intra_mb_per_batch;
      x["inter_bytes_per_token"] = row.inter_bytes_per_token;
      x["intra_bytes_per_token"] = row.intra_bytes_per_token;
      x["load_max_mean"] = row.load_max_mean;
      x["nic_max_mean"] = row.nic_max_mean;
      x["share_same_gpu"] = row.share_same_gpu;
      x["share_same_node"] = row.share_same_node;
      x["share_remote"] = row.share_remote;
      x["time"] = layer_time_json(row.time);
      x["instances_per_gpu"] = row.instances_per_gpu;
      x["extra_memory_pct"] = row.extra_memory_pct;
      x["speedup"] = row.speedup;
      x["speedup_overlap"] = row.speedup_overlap;
      x["best_baseline"] = label_of(r, row.best_baseline);
      x["speedup_vs_best_baseline"] = row.speedup_vs_best;
      x["best_baseline_overlap"] = label_of(r, row.best_baseline_overlap);
      x["speedup_vs_best_baseline_overlap"] = row.speedup_vs_best_overlap;
      x["least_traffic_baseline"] = label_of(r, row.least_traffic_baseline);
      x["inter_vs_least_traffic_baseline"] = row.inter_vs_least;
      x["inter_mb_per_layer"] = row.inter_mb_per_layer;
      x["intra_mb_per_layer"] = row.intra_mb_per_layer;
      x["time_per_layer"] = nlohmann::json::array();
      for (const auto& t : row.time_per_layer) x["time_per_layer"].push_back(layer_time_json(t));
      x["gpu_load"] = row.gpu_load;
    }
    j["rows"].push_back(std::move(x));
  }
  j["memory_sweep"] = nlohmann::json::parse(report::sweep_json(r));
  return dump_json(j, 1);
}

const std::vector<std::string>& compare_report_names() {
  static const std::vector<std::string> names = {"report.md", "report.html", "results.json"};
  return names;
}

void write_compare_reports(const CompareResult& r, const std::string& dir) {
  // Render everything first so a rendering failure writes nothing; then the folder appears whole
  // (staged beside it and renamed into place) or not at all.
  std::string md = compare_markdown(r), html = compare_html(r), json = compare_json(r);
  StagedDir out(dir, compare_report_names());
  out.write("results.json", json);
  out.write("report.md", md);
  out.write("report.html", html);
  out.commit();
}

}  // namespace grace
