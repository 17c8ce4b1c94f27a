// compare on a small synthetic model: every combination runs, the reports hold every row, the
// HTML is well-formed and carries the charts, results.json parses.
#include "grace/compare.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "grace/error.h"
#include "grace/experiment.h"
#include "report/run_command.h"
#include "report/xml_check.h"

namespace grace {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int count_of(const std::string& s, const std::string& needle) {
  int n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

class CompareTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("grace_compare_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    fs::path model = dir_ / "small_model.json";
    std::ofstream(model)
        << R"({"name":"small","moe_layers":4,"experts":32,"top_k":4,"hidden":1024,"moe_intermediate":512})";
    CompareOptions o;
    o.model = model.string();
    o.topology = "2x4";
    o.batch_tokens = 1024;
    o.synth_tokens = 8192;
    result_ = new CompareResult(run_compare(o, [](const std::string& l) { progress_.push_back(l); }));
    write_compare_reports(*result_, (dir_ / "out").string());
  }
  static void TearDownTestSuite() {
    delete result_;
    fs::remove_all(dir_);
  }
  static inline fs::path dir_;
  static inline CompareResult* result_ = nullptr;
  static inline std::vector<std::string> progress_;
};

// Planners that another change adds may be missing here; their rows must then be skipped with
// a reason, never fail.
bool may_be_missing(const Combination& c) { return c.planner == "uniform-affinity+replicas"; }

TEST_F(CompareTest, EveryCombinationRunsInOrder) {
  const auto combos = default_combinations();
  ASSERT_EQ(result_->rows.size(), combos.size());
  ASSERT_EQ(progress_.size(), combos.size());
  for (size_t i = 0; i < combos.size(); ++i) {
    const auto& row = result_->rows[i];
    EXPECT_EQ(row.combo.label(), combos[i].label());  // rows keep the combinations' order
    EXPECT_NE(progress_[i].find(row.combo.label()), std::string::npos);
    if (!row.ok && may_be_missing(row.combo)) {
      EXPECT_NE(row.skipped.find("is not available"), std::string::npos) << row.skipped;
      continue;
    }
    EXPECT_TRUE(row.ok) << row.combo.label() << ": " << row.skipped;
    EXPECT_GT(row.time.total_us, 0) << row.combo.label();
    EXPECT_LE(row.time.overlap_us, row.time.total_us + 1e-9) << row.combo.label();
    EXPECT_GE(row.load_max_mean, 1.0 - 1e-9) << row.combo.label();
    EXPECT_GE(row.nic_max_mean, 1.0 - 1e-9) << row.combo.label();  // 2 nodes, traffic crosses in every row
    EXPECT_EQ(row.gpu_load.size(), 4u);
  }
  // The order a reader expects: the reference first, baselines, then grace's rows.
  std::vector<std::string> labels;
  for (const auto& c : combos) labels.push_back(c.label());
  const std::vector<std::string> want = {"contiguous/primary/flat",
                                         "eplb/round-robin/flat",
                                         "eplb/wrr/flat",
                                         "eplb/tar/hierarchical",
                                         "uniform-affinity/primary/hierarchical",
                                         "uniform-affinity+replicas/cover/hierarchical",
                                         "grace-paper/tar/hierarchical",
                                         "grace/tar/hierarchical",
                                         "grace/cover/hierarchical",
                                         "grace/cover/hierarchical (redundant 0)"};
  EXPECT_EQ(labels, want);
  EXPECT_EQ(result_->baseline, 0);
  EXPECT_NEAR(result_->rows[0].speedup, 1.0, 1e-12);
  // Out of sample: the plan and evaluation halves are disjoint and together the whole trace.
  EXPECT_EQ(result_->plan_tokens + result_->eval_tokens, 8192);
  EXPECT_NE(result_->plan_source.find("even-indexed"), std::string::npos);
}

const CompareRow& row_named(const CompareResult& r, const std::string& label) {
  for (const auto& row : r.rows)
    if (row.combo.label() == label) return row;
  throw std::runtime_error("no row " + label);
}

// Each speedup is a ratio of two rows' simulated times, and the best baseline is the fastest
// non-grace row with the same comm and no more memory (checked here by brute force).
TEST_F(CompareTest, SpeedupsAreTimeRatios) {
  const auto& rows = result_->rows;
  const auto& ref = rows[result_->baseline];
  for (const auto& row : rows) {
    if (!row.ok) continue;
    EXPECT_DOUBLE_EQ(row.speedup, ref.time.total_us / row.time.total_us) << row.combo.label();
    EXPECT_DOUBLE_EQ(row.speedup_overlap, ref.time.overlap_us / row.time.overlap_us) << row.combo.label();
    int best = -1;
    for (size_t j = 0; j < rows.size(); ++j) {
      const auto& b = rows[j];
      if (b.ok && is_baseline_planner(b.combo.planner) && b.combo.comm == row.combo.comm &&
          b.instances_per_gpu <= row.instances_per_gpu + 1e-9 &&
          (best < 0 || b.time.total_us < rows[best].time.total_us))
        best = int(j);
    }
    ASSERT_GE(best, 0) << row.combo.label();  // every comm scheme has a baseline at the least memory
    EXPECT_EQ(row.best_baseline, best) << row.combo.label();
    EXPECT_DOUBLE_EQ(row.speedup_vs_best, rows[best].time.total_us / row.time.total_us) << row.combo.label();
    const auto& least = rows[row.least_traffic_baseline];
    EXPECT_DOUBLE_EQ(row.inter_vs_least, row.inter_mb_per_batch / least.inter_mb_per_batch) << row.combo.label();
    if (is_baseline_planner(row.combo.planner)) {
      EXPECT_LE(row.speedup_vs_best, 1.0 + 1e-12) << row.combo.label();
    }
  }
  // grace at zero redundancy has the memory of uniform-affinity, the only hierarchical baseline
  // with one copy per expert; eplb/tar/hierarchical (one replica slot per GPU) does not qualify.
  const auto& g0 = row_named(*result_, "grace/cover/hierarchical (redundant 0)");
  EXPECT_EQ(rows[g0.best_baseline].combo.label(), "uniform-affinity/primary/hierarchical");
  EXPECT_EQ(rows[g0.least_traffic_baseline].combo.label(), "uniform-affinity/primary/hierarchical");
  // The contiguous reference has nothing faster at its memory with flat comm.
  EXPECT_EQ(ref.best_baseline, result_->baseline);
}

// Small model: 32 experts on 2x4. Default budget = one slot per GPU = 8 extra slots = 25%.
TEST_F(CompareTest, MemoryColumns) {
  const auto& contiguous = row_named(*result_, "contiguous/primary/flat");
  EXPECT_DOUBLE_EQ(contiguous.instances_per_gpu, 4.0);
  EXPECT_DOUBLE_EQ(contiguous.extra_memory_pct, 0.0);
  EXPECT_EQ(contiguous.replicas, 0);
  const auto& eplb = row_named(*result_, "eplb/tar/hierarchical");
  EXPECT_DOUBLE_EQ(eplb.instances_per_gpu, 5.0);
  EXPECT_DOUBLE_EQ(eplb.extra_memory_pct, 25.0);
  EXPECT_EQ(eplb.replicas, 4 * 8);
  const auto& g0 = row_named(*result_, "grace/cover/hierarchical (redundant 0)");
  EXPECT_DOUBLE_EQ(g0.instances_per_gpu, 4.0);
  EXPECT_DOUBLE_EQ(g0.extra_memory_pct, 0.0);
  EXPECT_EQ(g0.replicas, 0);
  const auto& g = row_named(*result_, "grace/tar/hierarchical");
  EXPECT_LE(g.instances_per_gpu, 5.0);
  EXPECT_NEAR(g.extra_memory_pct, 100.0 * g.replicas / (4 * 32), 1e-9);
}

TEST_F(CompareTest, ReportsHoldEveryRow) {
  std::string md = slurp(dir_ / "out" / "report.md");
  std::string html = slurp(dir_ / "out" / "report.html");
  std::string json = slurp(dir_ / "out" / "results.json");
  ASSERT_FALSE(md.empty());
  ASSERT_FALSE(html.empty());
  ASSERT_FALSE(json.empty());
  for (const auto& c : default_combinations()) {
    EXPECT_NE(md.find("| " + c.label() + " |"), std::string::npos) << c.label();
    EXPECT_NE(html.find(">" + c.label() + "</td>"), std::string::npos) << c.label();
    EXPECT_NE(json.find("\"" + c.label() + "\""), std::string::npos) << c.label();
  }
  EXPECT_NE(md.find("out of sample"), std::string::npos);
  // The reader is told which compute model the simulated times come from.
  EXPECT_EQ(result_->compute_model, "grouped");
  EXPECT_NE(md.find("grouped compute model"), std::string::npos);
  EXPECT_NE(json.find("\"compute_model\": \"grouped\""), std::string::npos);
  // No temporary files are left behind.
  int files = 0;
  for (auto& e : fs::directory_iterator(dir_ / "out")) files += e.is_regular_file();
  EXPECT_EQ(files, 3);
}

TEST_F(CompareTest, HtmlIsWellFormedAndSelfContained) {
  std::string html = slurp(dir_ / "out" / "report.html");
  int elements = 0;
  EXPECT_EQ(testing::check_well_formed(html, &elements), "");
  EXPECT_GT(elements, 500);
  // Time breakdown, two traffic charts, heatmaps for the baseline and the four grace rows.
  EXPECT_EQ(count_of(html, "<svg "), 1 + 2 + 5);
  EXPECT_EQ(count_of(html, "</svg>"), 8);
  EXPECT_NE(html.find("instances / GPU"), std::string::npos);
  EXPECT_NE(html.find("vs best baseline"), std::string::npos);
  EXPECT_EQ(html.find("Memory-traffic trade-off"), std::string::npos);  // no sweep asked for
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("MoE layer"), std::string::npos);     // axis label
  EXPECT_NE(html.find("with overlap"), std::string::npos);  // legend entry
}

TEST_F(CompareTest, ChromiumRendersTheCharts) {
  const char* chromium = "/usr/bin/chromium";
  if (!fs::exists(chromium))
    GTEST_SKIP() << "chromium is not installed (apt-get install chromium): browser check skipped";
  fs::path html = dir_ / "out" / "report.html";
  auto r = testing::run(std::string(chromium) + " --headless --no-sandbox --disable-gpu --user-data-dir=" +
                        (dir_ / "chromium-profile").string() + " --dump-dom file://" + html.string());
  ASSERT_EQ(r.code, 0) << r.out;
  // The DOM the browser built holds the table and every chart.
  EXPECT_EQ(count_of(r.out, "<svg "), 8) << r.out.substr(0, 2000);
  int ran = 0;
  for (const auto& row : result_->rows) ran += row.ok;
  EXPECT_EQ(count_of(r.out, "<polyline "), 2 * ran);  // two traffic charts, one line per row that ran
  EXPECT_NE(r.out.find("grace/tar/hierarchical</td>"), std::string::npos);
}

// The memory sweep: budgets from the percentages, every point planned, the report's section.
TEST(CompareSweep, BudgetsPointsAndReport) {
  fs::path dir = fs::temp_directory_path() / ("grace_compare_sweep_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path model = dir / "small_model.json";
  std::ofstream(model)
      << R"({"name":"small","moe_layers":4,"experts":32,"top_k":4,"hidden":1024,"moe_intermediate":512})";
  CompareOptions o;
  o.model = model.string();
  o.synth_tokens = 4096;
  o.batch_tokens = 1024;
  o.combinations = {{"contiguous", "primary", CommScheme::kFlat}};
  o.sweep_memory = true;
  o.sweep_pcts = {0, 12.5, 50};
  std::vector<std::string> lines;
  CompareResult r = run_compare(o, [&](const std::string& l) { lines.push_back(l); });
  ASSERT_EQ(r.memory_sweep.size(), 6u);
  EXPECT_EQ(lines.size(), 1u + 6u);
  // 32 experts on 8 GPUs: 12.5% = 4 slots, rounded up to 8 so that every GPU has 5.
  const int want_redundant[] = {0, 0, 8, 8, 16, 16};
  const double want_pct[] = {0, 0, 12.5, 12.5, 50, 50};
  for (size_t i = 0; i < r.memory_sweep.size(); ++i) {
    const auto& p = r.memory_sweep[i];
    EXPECT_EQ(p.requested_pct, want_pct[i]);
    EXPECT_EQ(p.row.combo.planner, i % 2 == 0 ? "grace" : "eplb");
    EXPECT_EQ(p.row.combo.redundant, want_redundant[i]);
    ASSERT_TRUE(p.row.ok) << p.row.combo.label() << ": " << p.row.skipped;
    EXPECT_LE(p.row.instances_per_gpu, 4.0 + want_redundant[i] / 8.0 + 1e-9) << p.row.combo.label();
    if (p.row.combo.planner == "eplb") {  // EPLB fills every slot it is given
      EXPECT_DOUBLE_EQ(p.row.instances_per_gpu, 4.0 + want_redundant[i] / 8.0);
      EXPECT_DOUBLE_EQ(p.row.extra_memory_pct, 100.0 * want_redundant[i] / 32.0);
    }
  }
  EXPECT_NE(lines[1].find("sweep [1/6] 0% extra memory: grace/cover/hierarchical (redundant 0)"), std::string::npos)
      << lines[1];
  const std::string html = compare_html(r), md = compare_markdown(r), json = compare_json(r);
  EXPECT_EQ(testing::check_well_formed(html), "");
  EXPECT_NE(html.find("Memory-traffic trade-off"), std::string::npos);
  EXPECT_EQ(count_of(html, "<svg "), 1 + 2 + 1 + 3);  // + the sweep's three charts
  EXPECT_NE(md.find("## Memory-traffic trade-off"), std::string::npos);
  EXPECT_EQ(count_of(json, "\"requested_extra_pct\""), 6);
  EXPECT_NE(format_compare_table(r).find("memory sweep"), std::string::npos);

  o.sweep_pcts = {-5};
  EXPECT_THROW(run_compare(o), InputError);
  fs::remove_all(dir);
}

TEST(XmlCheck, CatchesBrokenMarkup) {
  EXPECT_EQ(testing::check_well_formed("<a><b x=\"1\"/></a>"), "");
  EXPECT_NE(testing::check_well_formed("<a><b></a>"), "");
  EXPECT_NE(testing::check_well_formed("<a>1 < 2</a>"), "");
  EXPECT_NE(testing::check_well_formed("<a>R&D</a>"), "");
  EXPECT_NE(testing::check_well_formed("<a x=1></a>"), "");
  EXPECT_NE(testing::check_well_formed("<a>"), "");
}

TEST(Compare, BadInputsAreInputErrors) {
  CompareOptions o;
  o.topology = "2y4";
  EXPECT_THROW(run_compare(o), InputError);
  o.topology = "2x4";
  o.batch_tokens = 0;
  EXPECT_THROW(run_compare(o), InputError);
}

// One combination on the small synthetic trace: 8,192 tokens in batches of 1,024.
CompareOptions one_row(const Combination& c) {
  CompareOptions o;
  o.synth_tokens = 8192;
  o.batch_tokens = 1024;
  o.combinations = {c};
  return o;
}

// CompareOptions::foresight (a study's upper bound): planning reads the very sequences that are
// evaluated, and the result says so.
TEST(Compare, ForesightPlansOnTheEvaluatedSequences) {
  CompareOptions o = one_row({"grace", "cover", CommScheme::kHierarchical});
  const CompareResult out_of_sample = run_compare(o);
  o.foresight = true;
  const CompareResult foresight = run_compare(o);
  EXPECT_EQ(foresight.eval_tokens, out_of_sample.eval_tokens);
  EXPECT_EQ(foresight.plan_tokens, foresight.eval_tokens);
  EXPECT_EQ(out_of_sample.plan_tokens + out_of_sample.eval_tokens, 8192);
  EXPECT_NE(foresight.plan_source.find("foresight"), std::string::npos) << foresight.plan_source;
  EXPECT_EQ(out_of_sample.plan_source.find("foresight"), std::string::npos);
  ASSERT_TRUE(foresight.rows[0].ok && out_of_sample.rows[0].ok);
  // Another profile, so another plan: the evaluated traffic differs.
  EXPECT_NE(foresight.rows[0].inter_mb_per_batch, out_of_sample.rows[0].inter_mb_per_batch);
}

// CompareOptions::split = kHalves: the first half of the trace's sequences plans, the second half
// is evaluated, and the result says so; with --plan-trace there is nothing to cut.
TEST(Compare, HalvesPlanOnTheEarlierSequences) {
  CompareOptions o = one_row({"grace", "cover", CommScheme::kHierarchical});
  const CompareResult even_odd = run_compare(o);
  o.split = TraceSplitRule::kHalves;
  const CompareResult halves = run_compare(o);
  ASSERT_TRUE(halves.rows[0].ok) << halves.rows[0].skipped;
  const int64_t seqs = halves.plan_seqs + halves.eval_seqs;
  EXPECT_EQ(seqs, even_odd.plan_seqs + even_odd.eval_seqs);
  EXPECT_EQ(halves.plan_seqs, seqs / 2);
  EXPECT_EQ(halves.plan_tokens + halves.eval_tokens, 8192);
  EXPECT_NE(halves.plan_source.find("first half"), std::string::npos) << halves.plan_source;
  EXPECT_EQ(even_odd.plan_source.find("first half"), std::string::npos) << even_odd.plan_source;
  EXPECT_NE(halves.eval_tokens, even_odd.eval_tokens);  // other tokens evaluated
  o.plan_traces = {"synthetic:deepseek-v2-lite:1024:5"};
  EXPECT_THROW(run_compare(o), InputError);
  EXPECT_THROW(parse_split_rule("odd-even"), InputError);
  EXPECT_EQ(parse_split_rule(split_rule_name(TraceSplitRule::kHalves)), TraceSplitRule::kHalves);
}

// CompareOptions::batching reaches every row's evaluation and every report says which it was.
TEST(Compare, BalancedBatchingIsUsedAndReported) {
  CompareOptions o = one_row({"contiguous", "primary", CommScheme::kFlat});
  const CompareResult trace = run_compare(o);
  o.batching = Batching::kBalanced;
  const CompareResult balanced = run_compare(o);
  ASSERT_TRUE(trace.rows[0].ok && balanced.rows[0].ok);
  EXPECT_EQ(balanced.batching, Batching::kBalanced);
  // Same tokens on the same GPUs: the same bytes; a batch's sources even out, so its NIC does.
  EXPECT_NEAR(balanced.rows[0].inter_mb_per_batch * double(balanced.num_batches),
              trace.rows[0].inter_mb_per_batch * double(trace.num_batches), 1e-6);
  EXPECT_LT(balanced.rows[0].nic_max_mean, trace.rows[0].nic_max_mean);
  EXPECT_NE(format_compare_table(balanced).find("(balanced batching)"), std::string::npos);
  EXPECT_NE(compare_markdown(balanced).find("(balanced batching)"), std::string::npos);
  EXPECT_NE(compare_html(balanced).find("(balanced batching)"), std::string::npos);
  EXPECT_EQ(compare_markdown(trace).find("(balanced batching)"), std::string::npos);
  EXPECT_NE(compare_markdown(trace).find("(trace batching)"), std::string::npos);
  const std::string json = compare_json(balanced);
  const size_t key = json.find("\"batching\"");
  ASSERT_NE(key, std::string::npos);
  EXPECT_EQ(json.find("\"balanced\"", key), json.find(':', key) + 2) << json.substr(key, 40);
}

// Combination::target: a row planned for another router gets its own plan (the plan cache keys on
// it), its label says so, and an unknown target skips the row with the reason.
TEST(Compare, RowsPlannedForAnotherRouterGetTheirOwnPlan) {
  CompareOptions o;
  o.model = "gpt-oss-20b";
  o.synth_tokens = 8192;
  o.batch_tokens = 1024;
  o.combinations = {{"grace", "sglang-static", CommScheme::kHierarchical},
                    {"grace", "sglang-static", CommScheme::kHierarchical, -1, "sglang-static"},
                    {"grace", "sglang-static", CommScheme::kHierarchical, -1, "no-such-router"}};
  CompareResult r = run_compare(o);
  ASSERT_EQ(r.rows.size(), 3u);
  ASSERT_TRUE(r.rows[0].ok && r.rows[1].ok);
  EXPECT_NE(r.rows[0].inter_mb_per_batch, r.rows[1].inter_mb_per_batch);
  EXPECT_NE(compare_markdown(r).find("grace/sglang-static/hierarchical (for sglang-static)"), std::string::npos);
  EXPECT_FALSE(r.rows[2].ok);
  EXPECT_NE(r.rows[2].skipped.find("target router 'no-such-router'"), std::string::npos) << r.rows[2].skipped;
}

// Planned for SGLang's static dispatch on real GPT-OSS-20B routing (even sequences plan, odd ones
// are evaluated, as scripts/planner-matrix.sh does): under that dispatch grace's plan for it is
// at least 3% faster than its plan for cover, and its replicas cost no time against the plan for
// it without replicas (a replica on another node pulls pairs off its expert's home node there, so
// the planner must be able to keep them home). Skips without the shared traces.
TEST(Compare, PlannedForSglangsDispatchOnRealGptOss) {
  const std::string trace = std::string(GRACE_SHARED_DATA) + "/traces/gpt-oss-20b-mmlu/topk_ids.npy.gz";
  if (!std::filesystem::exists(trace)) GTEST_SKIP() << "no shared trace at " << trace;
  CompareOptions o;
  o.model = "gpt-oss-20b";
  o.traces = {trace};
  const auto H = CommScheme::kHierarchical;
  o.combinations = {{"grace", "sglang-static", H},
                    {"grace", "sglang-static", H, -1, "sglang-static"},
                    {"grace", "sglang-static", H, 0, "sglang-static"}};
  const CompareResult r = run_compare(o);
  ASSERT_EQ(r.rows.size(), 3u);
  for (const auto& row : r.rows) ASSERT_TRUE(row.ok) << row.skipped;
  const double for_cover = r.rows[0].time.total_us, for_sglang = r.rows[1].time.total_us,
               no_replicas = r.rows[2].time.total_us;
  std::printf("under sglang-static: planned for cover %.1f us, for sglang-static %.1f us, without replicas %.1f us\n",
              for_cover, for_sglang, no_replicas);
  EXPECT_LE(for_sglang, 0.97 * for_cover);
  EXPECT_LE(for_sglang, no_replicas);
}

TEST(Compare, MissingPlannersAreSkippedCleanly) {
  CompareOptions o;
  o.model = "";
  o.synth_tokens = 4096;
  o.batch_tokens = 1024;
  o.combinations = {{"no-such-planner", "tar", CommScheme::kHierarchical},
                    {"contiguous", "no-such-router", CommScheme::kFlat},
                    {"contiguous", "primary", CommScheme::kFlat}};
  CompareResult r = run_compare(o);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_FALSE(r.rows[0].ok);
  EXPECT_NE(r.rows[0].skipped.find("no-such-planner"), std::string::npos);
  EXPECT_FALSE(r.rows[1].ok);
  EXPECT_TRUE(r.rows[2].ok);
  EXPECT_EQ(r.baseline, 2);
  EXPECT_NE(compare_markdown(r).find("skipped"), std::string::npos);
  EXPECT_EQ(testing::check_well_formed(compare_html(r)), "");
}

}  // namespace
}  // namespace grace
