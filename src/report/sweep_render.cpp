// The memory sweep's table, charts and JSON (see sweep_render.h).
#include "report/sweep_render.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "report/svg_charts.h"

namespace grace::report {
namespace {

// The combination without its budget: the sweep's series name.
std::string series_name(const CompareRow& row) {
  Combination c = row.combo;
  c.redundant = -1;
  return c.label();
}

std::vector<std::string> series_names(const CompareResult& r) {
  std::vector<std::string> names;
  for (const auto& p : r.memory_sweep) {
    std::string n = series_name(p.row);
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  return names;
}

const char* kNote =
    "Each planner is given round(pct x experts) extra expert slots over the cluster, rounded up so that "
    "every GPU has the same number of slots; 'granted' is what that gives, 'used' what the plan holds. "
    "Planned and evaluated like the rows above (out of sample).";

}  // namespace

double granted_extra_pct(const CompareResult& r, const SweepPoint& p) {
  return r.num_experts > 0 ? 100.0 * double(p.row.combo.redundant) / double(r.num_experts) : 0;
}

std::string sweep_text(const CompareResult& r) {
  if (r.memory_sweep.empty()) return "";
  std::string out = fmt::format(
      "\nmemory sweep (extra expert memory -> traffic, load, time)\n{:<32} {:>7} {:>8} "
      "{:>8} {:>8} {:>6} {:>9} {:>8} {:>9} {:>10}\n",
      "planner/router/comm", "asked%", "granted%", "slots+", "inst/GPU", "used%", "xnode_MB", "max/mean", "layer_us",
      "overlap_us");
  for (const auto& p : r.memory_sweep) {
    const auto& row = p.row;
    if (!row.ok) {
      out += fmt::format("{:<32} {:>6.1f}% skipped: {}\n", series_name(row), p.requested_pct, row.skipped);
      continue;
    }
    out += fmt::format("{:<32} {:>6.1f}% {:>7.1f}% {:>8} {:>8.2f} {:>5.1f}% {:>9.2f} {:>8.2f} {:>9.1f} {:>10.1f}\n",
                       series_name(row), p.requested_pct, granted_extra_pct(r, p), row.combo.redundant,
                       row.instances_per_gpu, row.extra_memory_pct, row.inter_mb_per_batch, row.load_max_mean,
                       row.time.total_us, row.time.overlap_us);
  }
  return out;
}

std::string sweep_markdown(const CompareResult& r) {
  if (r.memory_sweep.empty()) return "";
  std::string md =
      "\n## Memory-traffic trade-off\n\n| planner / router / comm | extra memory asked | granted | "
      "redundant slots | instances / GPU | used | cross-node MB/batch | load max/mean | "
      "MoE-layer time (us) | with overlap (us) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& p : r.memory_sweep) {
    const auto& row = p.row;
    if (!row.ok) {
      md += fmt::format("| {} | {:.1f}% | skipped: {} ||||||||\n", series_name(row), p.requested_pct, row.skipped);
      continue;
    }
    md += fmt::format("| {} | {:.1f}% | {:.1f}% | {} | {:.2f} | {:.1f}% | {:.2f} | {:.2f} | {:.1f} | {:.1f} |\n",
                      series_name(row), p.requested_pct, granted_extra_pct(r, p), row.combo.redundant,
                      row.instances_per_gpu, row.extra_memory_pct, row.inter_mb_per_batch, row.load_max_mean,
                      row.time.total_us, row.time.overlap_us);
  }
  return md + "\n" + kNote + "\n";
}

std::string sweep_html(const CompareResult& r) {
  if (r.memory_sweep.empty()) return "";
  std::string o =
      "<section><h2>Memory-traffic trade-off</h2><div class=\"scroll\"><table><thead><tr>"
      "<th class=\"name\">planner / router / comm</th><th>extra memory asked</th><th>granted</th>"
      "<th>redundant slots</th><th>instances / GPU</th><th>used</th><th>cross-node MB / batch</th>"
      "<th>GPU load max / mean</th><th>MoE-layer us</th><th>with overlap us</th></tr></thead><tbody>";
  for (const auto& p : r.memory_sweep) {
    const auto& row = p.row;
    if (!row.ok) {
      o += fmt::format(
          "<tr class=\"skip\"><td class=\"name\">{}</td><td>{:.1f}%</td><td colspan=\"8\" "
          "style=\"text-align:left\">skipped: {}</td></tr>",
          svg::escape(series_name(row)), p.requested_pct, svg::escape(row.skipped));
      continue;
    }
    o += fmt::format(
        "<tr><td class=\"name\">{}</td><td>{:.1f}%</td><td>{:.1f}%</td><td>{}</td><td>{:.2f}</td>"
        "<td>{:.1f}%</td><td>{:.2f}</td><td>{:.2f}</td><td>{:.1f}</td><td>{:.1f}</td></tr>",
        svg::escape(series_name(row)), p.requested_pct, granted_extra_pct(r, p), row.combo.redundant,
        row.instances_per_gpu, row.extra_memory_pct, row.inter_mb_per_batch, row.load_max_mean, row.time.total_us,
        row.time.overlap_us);
  }
  o += "</tbody></table></div>";
  std::vector<svg::XYSeries> traffic, time, load;
  for (const auto& name : series_names(r)) {
    svg::XYSeries t{name, {}, {}}, u{name, {}, {}}, l{name, {}, {}};
    for (const auto& p : r.memory_sweep) {
      if (!p.row.ok || series_name(p.row) != name) continue;
      const double x = granted_extra_pct(r, p);
      t.x.push_back(x), t.y.push_back(p.row.inter_mb_per_batch);
      u.x.push_back(x), u.y.push_back(p.row.time.total_us);
      l.x.push_back(x), l.y.push_back(p.row.load_max_mean);
    }
    if (t.x.empty()) continue;
    traffic.push_back(std::move(t)), time.push_back(std::move(u)), load.push_back(std::move(l));
  }
  if (!traffic.empty()) {
    o += svg::xy_chart("Cross-node traffic vs extra expert memory", "extra expert memory granted (%)",
                       "cross-node MB per batch", traffic, "% extra memory");
    o += svg::xy_chart("Simulated MoE-layer time vs extra expert memory", "extra expert memory granted (%)",
                       "time per MoE layer per batch (us)", time, "% extra memory");
    o += svg::xy_chart("GPU load max/mean vs extra expert memory", "extra expert memory granted (%)",
                       "GPU load max / mean", load, "% extra memory");
  }
  return o + "<p class=\"note\">" + svg::escape(kNote) + "</p></section>";
}

std::string sweep_json(const CompareResult& r) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& p : r.memory_sweep) {
    const auto& row = p.row;
    nlohmann::json x = {{"planner", row.combo.planner},
                        {"router", row.combo.router},
                        {"comm", comm_scheme_name(row.combo.comm)},
                        {"requested_extra_pct", p.requested_pct},
                        {"redundant", row.combo.redundant},
                        {"granted_extra_pct", granted_extra_pct(r, p)},
                        {"ok", row.ok}};
    if (!row.ok) {
      x["skipped"] = row.skipped;
    } else {
      x["plan_seconds"] = row.plan_seconds;
      x["instances_per_gpu"] = row.instances_per_gpu;
      x["extra_memory_pct"] = row.extra_memory_pct;
      x["inter_mb_per_batch"] = row.inter_mb_per_batch;
      x["intra_mb_per_batch"] = row.intra_mb_per_batch;
      x["load_max_mean"] = row.load_max_mean;
      x["layer_us"] = row.time.total_us;
      x["layer_overlap_us"] = row.time.overlap_us;
    }
    a.push_back(std::move(x));
  }
  return dump_json(a);
}

}  // namespace grace::report
