// On a trace with no structure, affinity grouping has nothing to exploit: contiguous and
// uniform-affinity placements must simulate to the same time within a few percent.
#include <gtest/gtest.h>

#include "grace/evaluate.h"
#include "grace/model.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/simulate.h"
#include "grace/synth.h"
#include "grace/topology.h"

namespace grace {
namespace {

double simulated_us(const std::string& planner, CommScheme comm, const Trace& plan_trace, const Trace& eval_trace,
                    const ModelSpec& model, const Topology& topo) {
  Profile profile = build_profile(plan_trace);
  PlanContext ctx{profile, model, topo, PlanOptions{}};
  Placement p = make_planner(planner)->plan(ctx);
  EvalOptions opt;
  opt.batch_tokens = 2048;
  opt.comm = comm;
  opt.router = "primary";
  EvalResult e = evaluate(eval_trace, p, topo, model, opt);
  return simulate(e, topo, model).mean_layer.total_us;
}

TEST(SimulateUniform, ContiguousAndUniformAffinityAgree) {
  ModelSpec model = generic_model(4, 32, 4);
  Trace plan_trace = uniform_trace(4, 32, 4, 8192, 11);
  Trace eval_trace = uniform_trace(4, 32, 4, 8192, 12);
  for (const char* spec : {"2x4", "2x4@h200"})
    for (ComputeModel cm : {ComputeModel::kGrouped, ComputeModel::kPerExpert}) {
      Topology topo = parse_topology(spec);
      topo.compute_model = cm;
      for (CommScheme comm : {CommScheme::kFlat, CommScheme::kHierarchical}) {
        double a = simulated_us("contiguous", comm, plan_trace, eval_trace, model, topo);
        double b = simulated_us("uniform-affinity", comm, plan_trace, eval_trace, model, topo);
        ASSERT_GT(a, 0);
        EXPECT_NEAR(b / a, 1.0, 0.05) << spec << ", " << compute_model_name(cm) << ", " << comm_scheme_name(comm)
                                      << ": contiguous " << a << " us, uniform-affinity " << b << " us";
      }
    }
}

}  // namespace
}  // namespace grace
