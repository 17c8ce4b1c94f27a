// Plain-text and Markdown renderings of a CompareResult (grace compare).
#include <fmt/core.h>

#include "grace/compare.h"
#include "grace/error.h"
#include "report/sweep_render.h"

namespace grace {
namespace {

std::string speedup_str(double s) { return s > 0 ? fmt::format("{:.2f}x", s) : "-"; }

std::string row_label(const CompareResult& r, int i) { return i >= 0 ? r.rows[i].combo.label() : "-"; }

}  // namespace

std::string Combination::label() const {
  std::string s = fmt::format("{}/{}/{}", planner, router, comm_scheme_name(comm));
  if (redundant >= 0) s += fmt::format(" (redundant {})", redundant);
  if (!target.empty()) s += fmt::format(" (for {})", target);
  return s;
}

bool is_baseline_planner(const std::string& planner) { return planner.rfind("grace", 0) != 0; }

std::string format_compare_table(const CompareResult& r) {
  std::string out =
      fmt::format("{} on {} ({} GPUs, {} compute model), {} batches of up to {} tokens ({} batching); plan: {}\n",
                  one_line(r.model), one_line(r.topology), r.nodes * r.gpus_per_node, r.compute_model, r.num_batches,
                  r.batch_tokens, batching_name(r.batching), one_line(r.plan_source));
  out += fmt::format("{:<52} {:>9} {:>5} {:>9} {:>8} {:>6} {:>6} {:>8} {:>6} {:>9} {:>10} {:>7} {:>7} {:>7}\n",
                     "planner/router/comm", "xnode_MB", "nic", "intra_MB", "max/mean", "gpu%", "node%", "inst/GPU",
                     "extra%", "layer_us", "overlap_us", "vs_ref", "vs_best", "xn/best");
  for (const auto& row : r.rows) {
    if (!row.ok) {
      out += fmt::format("{:<52} skipped: {}\n", row.combo.label(), row.skipped);
      continue;
    }
    out += fmt::format(
        "{:<52} {:>9.2f} {:>5.2f} {:>9.2f} {:>8.2f} {:>5.1f}% {:>5.1f}% {:>8.2f} {:>5.1f}% {:>9.1f} {:>10.1f} {:>7} "
        "{:>7} {:>7}\n",
        row.combo.label(), row.inter_mb_per_batch, row.nic_max_mean, row.intra_mb_per_batch, row.load_max_mean,
        100 * row.share_same_gpu, 100 * (row.share_same_gpu + row.share_same_node), row.instances_per_gpu,
        row.extra_memory_pct, row.time.total_us, row.time.overlap_us, speedup_str(row.speedup),
        speedup_str(row.speedup_vs_best), speedup_str(row.inter_vs_least));
  }
  out += fmt::format(
      "MB: per batch, all MoE layers, dispatch direction (combine moves as much back); nic: busiest node NIC over\n"
      "the mean (its busier direction paces the cross-node stage); gpu%/node%: token-expert pairs served on the\n"
      "token's GPU / node; inst/GPU: expert instances on the fullest GPU per layer; extra%:\n"
      "expert memory over one copy per expert; layer_us: simulated time of one MoE layer of one batch.\n"
      "vs_ref: speedup over {}; vs_best: over the fastest baseline (non-grace planner) with the same comm\n"
      "and no more expert memory; xn/best: cross-node bytes over the least-traffic such baseline.\n",
      row_label(r, r.baseline));
  for (const auto& row : r.rows) {
    if (!row.ok || is_baseline_planner(row.combo.planner)) continue;
    out += fmt::format("  {}: fastest baseline {} ({}), least traffic {} ({})\n", row.combo.label(),
                       row_label(r, row.best_baseline), speedup_str(row.speedup_vs_best),
                       row_label(r, row.least_traffic_baseline), speedup_str(row.inter_vs_least));
  }
  out += report::sweep_text(r);
  return out;
}

std::string compare_markdown(const CompareResult& r) {
  std::string md = "# grace compare\n\n";
  // Names and paths are untrusted text: one line each, control characters escaped.
  md += fmt::format("- model: **{}** ({} MoE layers x {} experts, top-{})\n", one_line(r.model), r.num_layers,
                    r.num_experts, r.top_k);
  md += fmt::format("- topology: **{}** ({} nodes x {} GPUs; simulated with the {} compute model)\n",
                    one_line(r.topology), r.nodes, r.gpus_per_node, r.compute_model);
  md += fmt::format("- evaluated on: {} - {} tokens in {} sequences, {} batches of up to {} tokens ({} batching)\n",
                    one_line(r.trace_source), r.eval_tokens, r.eval_seqs, r.num_batches, r.batch_tokens,
                    batching_name(r.batching));
  md += fmt::format("- planned on: {} - {} tokens in {} sequences\n", one_line(r.plan_source), r.plan_tokens,
                    r.plan_seqs);
  md += fmt::format("- seed: {}\n\n", r.seed);
  md +=
      "| planner / router / comm | replicas | instances / GPU | extra memory | cross-node MB/batch | "
      "intra-node MB/batch | cross-node B/token | busiest NIC / mean | load max/mean | local GPU | local node | "
      "MoE-layer time (us) | "
      "with overlap (us) | speedup | speedup (overlap) | vs best baseline | vs best baseline (overlap) | "
      "cross-node vs least baseline |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& row : r.rows) {
    if (!row.ok) {
      md += fmt::format("| {} | skipped: {} |||||||||||||||||\n", row.combo.label(), row.skipped);
      continue;
    }
    md += fmt::format(
        "| {} | {} | {:.2f} | {:.1f}% | {:.2f} | {:.2f} | {:.0f} | {:.2f} | {:.2f} | {:.1f}% | {:.1f}% | {:.1f} | "
        "{:.1f} | {} | {} | {} | {} | {} |\n",
        row.combo.label(), row.replicas, row.instances_per_gpu, row.extra_memory_pct, row.inter_mb_per_batch,
        row.intra_mb_per_batch, row.inter_bytes_per_token, row.nic_max_mean, row.load_max_mean,
        100 * row.share_same_gpu, 100 * (row.share_same_gpu + row.share_same_node), row.time.total_us,
        row.time.overlap_us, speedup_str(row.speedup), speedup_str(row.speedup_overlap),
        speedup_str(row.speedup_vs_best), speedup_str(row.speedup_vs_best_overlap), speedup_str(row.inter_vs_least));
  }
  md += fmt::format(
      "\nMB = 1e6 bytes, per batch, summed over MoE layers, dispatch direction (combine moves as much back). "
      "Instances / GPU: expert instances on the fullest GPU per MoE layer (the HBM every GPU reserves); extra "
      "memory: instances beyond one copy per expert. Busiest NIC / mean: the cross-node copies of the busiest node "
      "NIC in its busier direction over the mean node's (that NIC paces the cross-node stage). Local GPU / node: "
      "share of token-expert pairs served on the token's own GPU / node. Times are one MoE layer of one batch (mean "
      "over layers and batches), from the cost "
      "model (docs/simulator.md). Speedup: relative to {}. Best baseline: the fastest row of a non-grace planner "
      "with the same comm scheme and no more instances / GPU (the row itself for a baseline); cross-node vs "
      "least baseline: this row's cross-node bytes over those of the least-traffic such row.\n\n",
      row_label(r, r.baseline));
  md +=
      "| planner / router / comm | best baseline (same memory, comm) | with overlap | least cross-node traffic |\n"
      "|---|---|---|---|\n";
  for (const auto& row : r.rows) {
    if (!row.ok) continue;
    md += fmt::format("| {} | {} | {} | {} |\n", row.combo.label(), row_label(r, row.best_baseline),
                      row_label(r, row.best_baseline_overlap), row_label(r, row.least_traffic_baseline));
  }
  md += "\n## Time breakdown (one MoE layer of one batch, us)\n\n";
  md +=
      "| planner / router / comm | dispatch | of which cross-node | compute | combine | total | with overlap | "
      "GPU idle |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& row : r.rows) {
    if (!row.ok) continue;
    const auto& t = row.time;
    md += fmt::format("| {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f}% |\n", row.combo.label(),
                      t.dispatch_us, t.dispatch_inter_us, t.compute_us, t.combine_us, t.total_us, t.overlap_us,
                      100 * t.idle_share);
  }
  md += "\nGPU idle: share of GPU-time spent waiting for the slowest GPU's expert compute. Charts: report.html.\n";
  md += report::sweep_markdown(r);
  return md;
}

}  // namespace grace
