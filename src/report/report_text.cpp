// Plain-text and Markdown renderings of a CompareResult (grace compare).
#include <fmt/core.h>

#include "grace/compare.h"

namespace grace {
namespace {

std::string speedup_str(double s) { return s > 0 ? fmt::format("{:.2f}x", s) : "-"; }

}  // namespace

std::string Combination::label() const { return fmt::format("{}/{}/{}", planner, router, comm_scheme_name(comm)); }

std::string format_compare_table(const CompareResult& r) {
  std::string out = fmt::format("{} on {} ({} GPUs, {} compute model), {} batches of {} tokens; plan: {}\n", r.model,
                                r.topology, r.nodes * r.gpus_per_node, r.compute_model, r.num_batches,
                                r.batch_tokens, r.plan_source);
  out += fmt::format("{:<40} {:>9} {:>9} {:>8} {:>7} {:>7} {:>10} {:>10} {:>8} {:>8}\n", "planner/router/comm",
                     "xnode_MB", "intra_MB", "max/mean", "gpu%", "node%", "layer_us", "overlap_us", "speedup",
                     "(ovl)");
  for (const auto& row : r.rows) {
    if (!row.ok) {
      out += fmt::format("{:<40} skipped: {}\n", row.combo.label(), row.skipped);
      continue;
    }
    out += fmt::format("{:<40} {:>9.2f} {:>9.2f} {:>8.2f} {:>6.1f}% {:>6.1f}% {:>10.1f} {:>10.1f} {:>8} {:>8}\n",
                       row.combo.label(), row.inter_mb_per_batch, row.intra_mb_per_batch, row.load_max_mean,
                       100 * row.share_same_gpu, 100 * (row.share_same_gpu + row.share_same_node),
                       row.time.total_us, row.time.overlap_us, speedup_str(row.speedup),
                       speedup_str(row.speedup_overlap));
  }
  out += "MB: per batch, all MoE layers, dispatch direction (combine moves as much back); gpu%/node%: token-expert\n"
         "pairs served on the token's GPU / node; layer_us: simulated time of one MoE layer of one batch.\n";
  return out;
}

std::string compare_markdown(const CompareResult& r) {
  std::string md = "# grace compare\n\n";
  md += fmt::format("- model: **{}** ({} MoE layers x {} experts, top-{})\n", r.model, r.num_layers, r.num_experts,
                    r.top_k);
  md += fmt::format("- topology: **{}** ({} nodes x {} GPUs; simulated with the {} compute model)\n", r.topology,
                    r.nodes, r.gpus_per_node, r.compute_model);
  md += fmt::format("- evaluated on: {} - {} tokens in {} sequences, {} batches of {} tokens\n", r.trace_source,
                    r.eval_tokens, r.eval_seqs, r.num_batches, r.batch_tokens);
  md += fmt::format("- planned on: {} - {} tokens in {} sequences\n", r.plan_source, r.plan_tokens, r.plan_seqs);
  md += fmt::format("- seed: {}\n\n", r.seed);
  md += "| planner / router / comm | replicas | cross-node MB/batch | intra-node MB/batch | cross-node B/token | "
        "load max/mean | local GPU | local node | MoE-layer time (us) | with overlap (us) | speedup | speedup "
        "(overlap) |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& row : r.rows) {
    if (!row.ok) {
      md += fmt::format("| {} | skipped: {} |||||||||||\n", row.combo.label(), row.skipped);
      continue;
    }
    md += fmt::format("| {} | {} | {:.2f} | {:.2f} | {:.0f} | {:.2f} | {:.1f}% | {:.1f}% | {:.1f} | {:.1f} | {} | {} |\n",
                      row.combo.label(), row.replicas, row.inter_mb_per_batch, row.intra_mb_per_batch,
                      row.inter_bytes_per_token, row.load_max_mean, 100 * row.share_same_gpu,
                      100 * (row.share_same_gpu + row.share_same_node), row.time.total_us, row.time.overlap_us,
                      speedup_str(row.speedup), speedup_str(row.speedup_overlap));
  }
  md += "\nMB = 1e6 bytes, per batch, summed over MoE layers, dispatch direction (combine moves as much back). "
        "Local GPU / node: share of token-expert pairs served on the token's own GPU / node. Times are one MoE "
        "layer of one batch (mean over layers and batches), from the cost model (docs/simulator.md). Speedups are "
        "relative to the first row.\n\n";
  md += "## Time breakdown (one MoE layer of one batch, us)\n\n";
  md += "| planner / router / comm | dispatch | of which cross-node | compute | combine | total | with overlap | "
        "GPU idle |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& row : r.rows) {
    if (!row.ok) continue;
    const auto& t = row.time;
    md += fmt::format("| {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f}% |\n", row.combo.label(),
                      t.dispatch_us, t.dispatch_inter_us, t.compute_us, t.combine_us, t.total_us, t.overlap_us,
                      100 * t.idle_share);
  }
  md += "\nGPU idle: share of GPU-time spent waiting for the slowest GPU's expert compute. Charts: report.html.\n";
  return md;
}

}  // namespace grace
