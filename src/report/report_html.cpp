// report.html: one self-contained page (inline CSS and SVG, no script, no external resource)
// with the comparison table and the charts. Well-formed XHTML-style markup throughout.
#include <fmt/core.h>

#include <algorithm>

#include "grace/compare.h"
#include "report/svg_charts.h"
#include "report/sweep_render.h"

namespace grace {
namespace {

const char* kCss = R"(
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; margin: 0; color: #222; background: #f5f6f8; }
header { background: #1f3a5f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; opacity: 0.85; font-size: 13px; }
main { padding: 16px 32px 40px 32px; max-width: 1360px; }
div.scroll { overflow-x: auto; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 14px 18px; margin: 16px 0; }
h2 { font-size: 17px; margin: 4px 0 10px 0; color: #1f3a5f; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 3px 14px; font-size: 13px; margin: 0; }
dl.meta dt { font-weight: 600; color: #555; }
dl.meta dd { margin: 0; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th, td { padding: 5px 6px; border-bottom: 1px solid #e6e8eb; text-align: right; white-space: nowrap; }
th { background: #eef1f5; color: #333; font-weight: 600; vertical-align: bottom; white-space: normal; }
td.name, th.name { text-align: left; font-family: "DejaVu Sans Mono", Menlo, monospace; }
tr.base td { background: #fbf7e9; }
tr.skip td { color: #999; font-style: italic; }
td.good { color: #1a7f37; font-weight: 600; }
td.bad { color: #b3261e; }
p.note { font-size: 12px; color: #666; margin: 8px 0 0 0; }
svg.chart { display: block; margin: 8px 0; max-width: 100%; height: auto; }
svg .ctitle { font-size: 14px; font-weight: 600; fill: #222; }
svg .tick { font-size: 11px; fill: #444; }
svg .label { font-size: 12px; fill: #222; }
svg .legend { font-size: 12px; fill: #222; }
svg .grid { stroke: #e3e6ea; stroke-width: 1; }
svg .axis { stroke: #555; stroke-width: 1; }
svg .sep { stroke: #222; stroke-width: 2; }
svg .marker { stroke: #111; stroke-width: 3; }
div.heatmaps { display: flex; flex-wrap: wrap; gap: 8px 24px; }
)";

std::string td(const std::string& s, const char* cls = nullptr) {
  return cls ? fmt::format("<td class=\"{}\">{}</td>", cls, s) : "<td>" + s + "</td>";
}

// Green above 1 (better), red below.
const char* tone(double speedup) {
  return speedup <= 0 ? nullptr : speedup > 1.005 ? "good" : (speedup < 0.995 ? "bad" : nullptr);
}

std::string ratio_str(double v) { return v > 0 ? fmt::format("{:.2f}x", v) : "-"; }

std::string table(const CompareResult& r) {
  std::string o =
      "<table><thead><tr><th class=\"name\">planner / router / comm</th><th>replicas</th>"
      "<th>instances / GPU</th><th>extra memory</th><th>cross-node MB / batch</th><th>intra-node MB / "
      "batch</th><th>cross-node B / token</th><th>busiest NIC / mean</th>"
      "<th>GPU load max / mean</th><th>local GPU</th><th>local node</th><th>dispatch us</th>"
      "<th>compute us</th><th>combine us</th><th>GPU idle</th><th>MoE-layer us</th>"
      "<th>with overlap us</th><th>speedup</th><th>speedup (overlap)</th><th>vs best baseline</th>"
      "<th>vs best baseline (overlap)</th><th>cross-node vs least baseline</th>"
      "<th class=\"name\">best baseline (same memory, comm)</th></tr></thead><tbody>";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const auto& row = r.rows[i];
    if (!row.ok) {
      o += fmt::format(
          "<tr class=\"skip\"><td class=\"name\">{}</td><td colspan=\"22\" style=\"text-align:left\">skipped: "
          "{}</td></tr>",
          svg::escape(row.combo.label()), svg::escape(row.skipped));
      continue;
    }
    const auto& t = row.time;
    const char* sp = tone(row.speedup);
    const char* spo = tone(row.speedup_overlap);
    o += fmt::format("<tr{}>", int(i) == r.baseline ? " class=\"base\"" : "");
    o += td(svg::escape(row.combo.label()), "name") + td(fmt::format("{}", row.replicas)) +
         td(fmt::format("{:.2f}", row.instances_per_gpu)) + td(fmt::format("{:.1f}%", row.extra_memory_pct)) +
         td(fmt::format("{:.2f}", row.inter_mb_per_batch)) + td(fmt::format("{:.2f}", row.intra_mb_per_batch)) +
         td(fmt::format("{:.0f}", row.inter_bytes_per_token)) + td(fmt::format("{:.2f}", row.nic_max_mean)) +
         td(fmt::format("{:.2f}", row.load_max_mean)) + td(fmt::format("{:.1f}%", 100 * row.share_same_gpu)) +
         td(fmt::format("{:.1f}%", 100 * (row.share_same_gpu + row.share_same_node))) +
         td(fmt::format("{:.1f}", t.dispatch_us)) + td(fmt::format("{:.1f}", t.compute_us)) +
         td(fmt::format("{:.1f}", t.combine_us)) + td(fmt::format("{:.1f}%", 100 * t.idle_share)) +
         td(fmt::format("{:.1f}", t.total_us)) + td(fmt::format("{:.1f}", t.overlap_us)) +
         td(fmt::format("{:.2f}x", row.speedup), sp) + td(fmt::format("{:.2f}x", row.speedup_overlap), spo) +
         td(ratio_str(row.speedup_vs_best), tone(row.speedup_vs_best)) +
         td(ratio_str(row.speedup_vs_best_overlap), tone(row.speedup_vs_best_overlap)) +
         td(ratio_str(row.inter_vs_least), row.inter_vs_least > 0 ? tone(1 / row.inter_vs_least) : nullptr) +
         td(row.best_baseline >= 0 ? svg::escape(r.rows[row.best_baseline].combo.label()) : "-", "name");
    o += "</tr>";
  }
  return o + "</tbody></table>";
}

std::string heatmap_for(const CompareResult& r, const CompareRow& row, double vmax) {
  return svg::heatmap("GPU load / mean per layer: " + row.combo.label(), "MoE layer", "GPU", row.gpu_load, 1.0, vmax,
                      r.gpus_per_node, "load / mean");
}

}  // namespace

std::string compare_html(const CompareResult& r) {
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
      "<title>grace compare: " +
      svg::escape(r.model) + " on " + svg::escape(r.topology) +
      "</title>"
      "<style>" +
      std::string(kCss) + "</style></head><body>";
  o += fmt::format(
      "<header><h1>grace compare: {} on {}</h1><p>Placement, routing and communication policies, "
      "replayed on a routing trace and timed by the cost model.</p></header><main>",
      svg::escape(r.model), svg::escape(r.topology));
  o += "<section><h2>Setup</h2><dl class=\"meta\">";
  auto meta = [&](const std::string& k, const std::string& v) {
    o += "<dt>" + svg::escape(k) + "</dt><dd>" + svg::escape(v) + "</dd>";
  };
  meta("model", fmt::format("{} ({} MoE layers x {} experts, top-{})", r.model, r.num_layers, r.num_experts, r.top_k));
  meta("topology", fmt::format("{} ({} nodes x {} GPUs)", r.topology, r.nodes, r.gpus_per_node));
  meta("compute model", r.compute_model);
  meta("evaluated on", fmt::format("{}: {} tokens in {} sequences, {} batches of up to {} tokens ({} batching)",
                                   r.trace_source, r.eval_tokens, r.eval_seqs, r.num_batches, r.batch_tokens,
                                   batching_name(r.batching)));
  meta("planned on", fmt::format("{}: {} tokens in {} sequences", r.plan_source, r.plan_tokens, r.plan_seqs));
  meta("seed", fmt::format("{}", r.seed));
  if (r.baseline >= 0) meta("baseline", r.rows[r.baseline].combo.label());
  o += "</dl></section>";

  o += "<section><h2>Results</h2><div class=\"scroll\">" + table(r) + "</div>" +
       "<p class=\"note\">MB = 10<sup>6</sup> bytes per batch, summed over MoE layers, dispatch direction (combine "
       "moves as much back). Local GPU / node: share of token-expert pairs served on the token's own GPU / node. "
       "Times: one MoE layer of one batch, mean over layers and batches, from the cost model (docs/simulator.md). "
       "Instances / GPU: expert instances on the fullest GPU per MoE layer (the HBM every GPU reserves); extra "
       "memory: instances beyond one copy per expert. Speedups relative to the highlighted reference row, and to "
       "the best baseline: the fastest row of a non-grace planner with the same comm scheme and no more "
       "instances / GPU. Cross-node vs least baseline: cross-node bytes over those of the least-traffic such "
       "row.</p></section>";

  std::vector<const CompareRow*> ok;
  for (const auto& row : r.rows)
    if (row.ok) ok.push_back(&row);
  if (!ok.empty()) {
    std::vector<svg::StackedBar> bars;
    for (const auto* row : ok)
      bars.push_back({row->combo.label(),
                      {row->time.dispatch_us, row->time.compute_us, row->time.combine_us},
                      row->time.overlap_us});
    o += "<section><h2>Time breakdown</h2>" +
         svg::stacked_bars("Simulated time of one MoE layer per batch", "time per MoE layer per batch (us)",
                           {"dispatch", "expert compute", "combine"}, bars, "with overlap") +
         "</section>";
    std::vector<svg::Series> inter, intra;
    for (const auto* row : ok) {
      inter.push_back({row->combo.label(), row->inter_mb_per_layer});
      intra.push_back({row->combo.label(), row->intra_mb_per_layer});
    }
    o += "<section><h2>Traffic per layer</h2>" +
         svg::line_chart("Cross-node traffic per layer", "MoE layer", "cross-node MB per batch", inter) +
         svg::line_chart("Intra-node traffic per layer", "MoE layer", "intra-node MB per batch", intra) + "</section>";
    // Heatmaps: the baseline and every grace planner row.
    std::vector<const CompareRow*> maps;
    if (r.baseline >= 0) maps.push_back(&r.rows[r.baseline]);
    for (const auto* row : ok)
      if (row->combo.planner.rfind("grace", 0) == 0) maps.push_back(row);
    double vmax = 2.0;
    for (const auto* row : maps)
      for (const auto& l : row->gpu_load)
        for (double v : l) vmax = std::max(vmax, v);
    o += "<section><h2>GPU load per layer</h2><div class=\"heatmaps\">";
    for (const auto* row : maps) o += heatmap_for(r, *row, vmax);
    o += "</div><p class=\"note\">Token-expert pairs computed by each GPU relative to the mean over GPUs, mean over "
         "batches. White = balanced (1.0), red = overloaded, blue = underloaded; the thick line separates nodes.</p>"
         "</section>";
  }
  o += report::sweep_html(r);
  o += "</main></body></html>\n";
  return o;
}

}  // namespace grace
