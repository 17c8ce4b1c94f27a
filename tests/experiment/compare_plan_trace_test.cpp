// compare --plan-trace: the plan is made on every token of the --plan-trace and evaluated on
// every token of the --trace (nothing is cut), and the result says so.
#include <gtest/gtest.h>

#include "grace/compare.h"
#include "grace/error.h"
#include "grace/experiment.h"

namespace grace {
namespace {

const char* kPlanA = "synthetic:deepseek-v2-lite:2048:5";
const char* kPlanB = "synthetic:deepseek-v2-lite:2048:6";
const char* kEval = "synthetic:deepseek-v2-lite:3072:7";

CompareOptions plan_on(const std::string& plan, const std::string& eval) {
  CompareOptions o;
  o.model = "deepseek-v2-lite";
  o.topology = "2x4";
  o.batch_tokens = 1024;
  o.traces = {eval};
  o.plan_traces = {plan};
  o.combinations = {{"contiguous", "primary", CommScheme::kFlat}, {"grace", "cover", CommScheme::kHierarchical}};
  return o;
}

void expect_same_rows(const CompareResult& a, const CompareResult& b) {
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (size_t i = 0; i < a.rows.size(); ++i) {
    ASSERT_TRUE(a.rows[i].ok && b.rows[i].ok) << a.rows[i].skipped << b.rows[i].skipped;
    EXPECT_EQ(a.rows[i].inter_mb_per_batch, b.rows[i].inter_mb_per_batch) << a.rows[i].combo.label();
    EXPECT_EQ(a.rows[i].intra_mb_per_batch, b.rows[i].intra_mb_per_batch) << a.rows[i].combo.label();
    EXPECT_EQ(a.rows[i].load_max_mean, b.rows[i].load_max_mean) << a.rows[i].combo.label();
    EXPECT_EQ(a.rows[i].time.total_us, b.rows[i].time.total_us) << a.rows[i].combo.label();
  }
}

TEST(ComparePlanTrace, PlansOnAllOfItAndEvaluatesAllOfTheTrace) {
  const CompareResult a = run_compare(plan_on(kPlanA, kEval));
  EXPECT_EQ(a.plan_tokens, 2048);
  EXPECT_EQ(a.eval_tokens, 3072);
  EXPECT_NE(a.plan_source.find(kPlanA), std::string::npos) << a.plan_source;
  EXPECT_NE(a.plan_source.find("all of it"), std::string::npos) << a.plan_source;
  EXPECT_EQ(a.plan_source.find("foresight"), std::string::npos) << a.plan_source;
  EXPECT_NE(a.trace_source.find(kEval), std::string::npos) << a.trace_source;

  // Another plan trace: the same evaluated tokens (contiguous plans without looking at the trace,
  // so its row is unchanged), another grace plan.
  const CompareResult b = run_compare(plan_on(kPlanB, kEval));
  ASSERT_TRUE(a.rows[0].ok && b.rows[0].ok && a.rows[1].ok && b.rows[1].ok);
  EXPECT_EQ(b.eval_tokens, a.eval_tokens);
  EXPECT_EQ(a.rows[0].inter_mb_per_batch, b.rows[0].inter_mb_per_batch);
  EXPECT_NE(a.rows[1].inter_mb_per_batch, b.rows[1].inter_mb_per_batch);

  // Planned on the evaluated trace itself through --plan-trace, and through foresight (where
  // the --trace plans and --plan-trace is not read): the same plans, the same rows.
  const CompareResult self = run_compare(plan_on(kEval, kEval));
  CompareOptions o = plan_on(kPlanA, kEval);
  o.foresight = true;
  const CompareResult foresight = run_compare(o);
  EXPECT_EQ(self.plan_tokens, 3072);
  EXPECT_EQ(foresight.plan_tokens, 3072);
  expect_same_rows(self, foresight);
}

// A plan trace of another shape (layers, top-k) than the evaluated one is an input error.
TEST(ComparePlanTrace, OtherShapeIsAnInputError) {
  CompareOptions o = plan_on("synthetic:gpt-oss-20b:512:1", kEval);
  try {
    run_compare(o);
    FAIL() << "a GPT-OSS plan trace for a DeepSeek trace was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--plan-trace"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace grace
