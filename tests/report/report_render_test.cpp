// The report layer alone (it does not link the experiment layer): a hand-made CompareResult is
// rendered to text, Markdown, HTML and JSON with its memory columns, both speedups and the
// memory sweep.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "grace/compare.h"
#include "report/xml_check.h"

namespace grace {
namespace {

CompareRow make_row(const std::string& planner, int redundant, double inst, double extra, double us) {
  CompareRow r;
  r.combo = {planner, "tar", CommScheme::kHierarchical, redundant};
  r.ok = true;
  r.instances_per_gpu = inst;
  r.extra_memory_pct = extra;
  r.inter_mb_per_batch = us / 10;
  r.time.total_us = us;
  r.time.overlap_us = us / 2;
  r.inter_mb_per_layer = r.intra_mb_per_layer = {1, 2};
  r.gpu_load = {{1, 1}, {1, 1}};
  return r;
}

CompareResult hand_result(bool sweep) {
  CompareResult r;
  r.model = "hand";
  r.topology = "2x1";
  r.nodes = 2;
  r.gpus_per_node = 1;
  r.num_layers = 2;
  r.num_experts = 8;
  r.top_k = 2;
  r.rows = {make_row("eplb", -1, 5, 25, 200), make_row("grace", 0, 4, 0, 160)};
  CompareRow skipped;
  skipped.combo = {"uniform-affinity+replicas", "tar", CommScheme::kHierarchical};
  skipped.skipped = "planner 'uniform-affinity+replicas' is not available";
  r.rows.push_back(skipped);
  r.baseline = 0;
  r.rows[0].speedup = r.rows[0].speedup_overlap = 1;
  r.rows[0].best_baseline = r.rows[0].best_baseline_overlap = r.rows[0].least_traffic_baseline = 0;
  r.rows[0].speedup_vs_best = r.rows[0].speedup_vs_best_overlap = r.rows[0].inter_vs_least = 1;
  r.rows[1].speedup = 1.25;
  r.rows[1].speedup_vs_best = 1.37;  // made-up: the renderers print what they are given
  r.rows[1].best_baseline = 0;
  r.rows[1].nic_max_mean = 1.23;
  if (sweep) {
    for (int red : {0, 2, 8}) {
      SweepPoint p;
      p.requested_pct = 100.0 * red / 8;
      p.row = make_row("grace", red, 4 + red / 2.0, 100.0 * red / 8, 100 - red);
      r.memory_sweep.push_back(p);
    }
  }
  return r;
}

int count_of(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

TEST(ReportRender, LabelsShowTheBudget) {
  EXPECT_EQ((Combination{"grace", "tar", CommScheme::kHierarchical}.label()), "grace/tar/hierarchical");
  EXPECT_EQ((Combination{"grace", "tar", CommScheme::kHierarchical, 0}.label()),
            "grace/tar/hierarchical (redundant 0)");
  EXPECT_EQ((Combination{"grace", "sglang-static", CommScheme::kHierarchical, -1, "sglang-static"}.label()),
            "grace/sglang-static/hierarchical (for sglang-static)");
  EXPECT_TRUE(is_baseline_planner("eplb"));
  EXPECT_TRUE(is_baseline_planner("uniform-affinity+replicas"));
  EXPECT_FALSE(is_baseline_planner("grace"));
  EXPECT_FALSE(is_baseline_planner("grace-paper"));
}

TEST(ReportRender, MemoryColumnsAndBothSpeedups) {
  const CompareResult r = hand_result(false);
  const std::string text = format_compare_table(r), md = compare_markdown(r), html = compare_html(r);
  EXPECT_NE(text.find("inst/GPU"), std::string::npos) << text;
  EXPECT_NE(text.find("1.37x"), std::string::npos) << text;
  EXPECT_NE(text.find("fastest baseline eplb/tar/hierarchical (1.37x)"), std::string::npos) << text;
  EXPECT_NE(md.find("| grace/tar/hierarchical (redundant 0) | 0 | 4.00 | 0.0% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1.25x |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1.37x |"), std::string::npos) << md;
  EXPECT_NE(md.find("| eplb/tar/hierarchical | 0 | 5.00 | 25.0% |"), std::string::npos) << md;
  EXPECT_EQ(testing::check_well_formed(html), "");
  EXPECT_NE(html.find("<td>4.00</td><td>0.0%</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"good\">1.37x</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>busiest NIC / mean</th>"), std::string::npos);
  EXPECT_NE(html.find("<td>1.23</td>"), std::string::npos);
  EXPECT_EQ(html.find("Memory-traffic trade-off"), std::string::npos);
  const auto j = nlohmann::json::parse(compare_json(r));
  ASSERT_EQ(j["rows"].size(), 3u);
  EXPECT_EQ(j["rows"][1]["nic_max_mean"], 1.23);
  EXPECT_EQ(j["rows"][1]["redundant"], 0);
  EXPECT_EQ(j["rows"][1]["instances_per_gpu"], 4.0);
  EXPECT_EQ(j["rows"][1]["speedup"], 1.25);
  EXPECT_EQ(j["rows"][1]["speedup_vs_best_baseline"], 1.37);
  EXPECT_EQ(j["rows"][1]["best_baseline"], "eplb/tar/hierarchical");
  EXPECT_FALSE(j["rows"][2]["ok"].get<bool>());
  EXPECT_TRUE(j["memory_sweep"].empty());
}

// Names and paths are untrusted text (a model file's "name", a trace folder): the text table and
// the Markdown keep them on one line with control characters escaped; the HTML escapes markup.
TEST(ReportRender, NamesAreOneLineAndEscaped) {
  CompareResult r = hand_result(false);
  r.model = "x\ny\x1b[31m<b>";
  r.trace_source = "tr\nace";
  const std::string text = format_compare_table(r), md = compare_markdown(r), html = compare_html(r);
  for (const std::string* out : {&text, &md}) {
    EXPECT_EQ(out->find('\x1b'), std::string::npos) << *out;
    EXPECT_NE(out->find("x\\ny\\x1b[31m<b>"), std::string::npos) << *out;
  }
  EXPECT_NE(md.find("- evaluated on: tr\\nace - "), std::string::npos) << md;
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(testing::check_well_formed(html), "");
}

TEST(ReportRender, MemorySweepSection) {
  const CompareResult r = hand_result(true);
  const std::string html = compare_html(r), md = compare_markdown(r), text = format_compare_table(r);
  EXPECT_EQ(testing::check_well_formed(html), "");
  EXPECT_NE(html.find("Memory-traffic trade-off"), std::string::npos);
  EXPECT_NE(html.find("Cross-node traffic vs extra expert memory"), std::string::npos);
  EXPECT_NE(html.find("Simulated MoE-layer time vs extra expert memory"), std::string::npos);
  // The x axis is the memory granted: 0, 25 and 100% for 0, 2 and 8 slots over 8 experts.
  EXPECT_NE(html.find("grace/tar/hierarchical, 100% extra memory: 92.0"), std::string::npos);
  // Two traffic-per-layer charts with a line per row that ran (2), three sweep charts with one.
  EXPECT_EQ(count_of(html, "<polyline "), 2 * 2 + 3);
  EXPECT_NE(md.find("| grace/tar/hierarchical | 25.0% | 25.0% | 2 | 5.00 | 25.0% |"), std::string::npos) << md;
  EXPECT_NE(text.find("memory sweep"), std::string::npos);
  const auto j = nlohmann::json::parse(compare_json(r));
  ASSERT_EQ(j["memory_sweep"].size(), 3u);
  EXPECT_EQ(j["memory_sweep"][2]["redundant"], 8);
  EXPECT_EQ(j["memory_sweep"][2]["granted_extra_pct"], 100.0);
  EXPECT_EQ(j["memory_sweep"][2]["layer_us"], 92.0);
}

}  // namespace
}  // namespace grace
