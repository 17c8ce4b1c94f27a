// compare on a small synthetic model: every combination runs, the reports hold every row, the
// HTML is well-formed and carries the charts, results.json parses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "grace/compare.h"
#include "grace/experiment.h"
#include "grace/error.h"
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
    std::ofstream(model) << R"({"name":"small","moe_layers":4,"experts":32,"top_k":4,"hidden":1024,"moe_intermediate":512})";
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

TEST_F(CompareTest, EveryCombinationRuns) {
  const auto combos = default_combinations();
  ASSERT_EQ(result_->rows.size(), combos.size());
  ASSERT_EQ(progress_.size(), combos.size());
  for (size_t i = 0; i < combos.size(); ++i) {
    const auto& row = result_->rows[i];
    EXPECT_TRUE(row.ok) << row.combo.label() << ": " << row.skipped;
    EXPECT_GT(row.time.total_us, 0) << row.combo.label();
    EXPECT_LE(row.time.overlap_us, row.time.total_us + 1e-9) << row.combo.label();
    EXPECT_GE(row.load_max_mean, 1.0 - 1e-9) << row.combo.label();
    EXPECT_EQ(row.gpu_load.size(), 4u);
    EXPECT_NE(progress_[i].find(row.combo.label()), std::string::npos);
  }
  EXPECT_EQ(result_->baseline, 0);
  EXPECT_NEAR(result_->rows[0].speedup, 1.0, 1e-12);
  // Out of sample: the plan and evaluation halves are disjoint and together the whole trace.
  EXPECT_EQ(result_->plan_tokens + result_->eval_tokens, 8192);
  EXPECT_NE(result_->plan_source.find("even-indexed"), std::string::npos);
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
  // Time breakdown, two traffic charts, heatmaps for the baseline and the three grace rows.
  EXPECT_EQ(count_of(html, "<svg "), 1 + 2 + 4);
  EXPECT_EQ(count_of(html, "</svg>"), 7);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("MoE layer"), std::string::npos);  // axis label
  EXPECT_NE(html.find("with overlap"), std::string::npos);  // legend entry
}

TEST_F(CompareTest, ChromiumRendersTheCharts) {
  const char* chromium = "/usr/bin/chromium";
  if (!fs::exists(chromium)) GTEST_SKIP() << "chromium is not installed (apt-get install chromium): browser check skipped";
  fs::path html = dir_ / "out" / "report.html";
  auto r = testing::run(std::string(chromium) + " --headless --no-sandbox --disable-gpu --user-data-dir=" +
                        (dir_ / "chromium-profile").string() + " --dump-dom file://" + html.string());
  ASSERT_EQ(r.code, 0) << r.out;
  // The DOM the browser built holds the table and every chart.
  EXPECT_EQ(count_of(r.out, "<svg "), 7) << r.out.substr(0, 2000);
  EXPECT_EQ(count_of(r.out, "<polyline "), 2 * 7);  // two traffic charts, one line per policy
  EXPECT_NE(r.out.find("grace/tar/hierarchical</td>"), std::string::npos);
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
