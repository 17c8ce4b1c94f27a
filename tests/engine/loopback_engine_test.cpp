// The engine on a world of one rank through an in-process loopback Comm (no MPI): output equals
// the reference, stats are consistent, and bad inputs are InputErrors naming the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/loopback_comm.h"
#include "engine/test_inputs.h"
#include "grace/engine/comm.h"
#include "grace/engine/compute.h"
#include "grace/engine/engine.h"
#include "grace/engine/weights.h"
#include "grace/error.h"
#include "grace/router.h"
#include "grace/topology.h"

namespace grace::engine {
namespace {

using testing::LoopbackComm;

struct Fixture {
  ModelSpec model = testing::make_model(2, 6, 2, 16, 8);
  Topology topo = parse_topology("1x1");
  Trace trace = testing::make_trace(2, 6, 2, 50, 20, 9);
  Placement pl = testing::contiguous_placement(model, 1, 1);
  std::unique_ptr<Router> router = make_router("tar", pl, topo, 0);
  std::unique_ptr<WeightSource> weights = make_weight_source("random:1", 16, 8, 0);
  EngineInputs in() { return {&trace, &pl, &topo, model, router.get(), weights.get()}; }
};

}  // namespace

TEST(LoopbackEngine, MatchesReferenceForBothSchemes) {
  Fixture f;
  for (CommScheme scheme : {CommScheme::kFlat, CommScheme::kHierarchical}) {
    LoopbackComm comm;
    auto compute = make_cpu_compute();
    EngineOptions opt;
    opt.comm = scheme;
    opt.batch_tokens = 16;
    opt.keep_outputs = true;
    EngineResult r = run_engine(comm, *compute, f.in(), opt);
    ASSERT_EQ(r.out_tokens.size(), 50u);
    EXPECT_EQ(r.num_batches, 4);
    EXPECT_EQ(r.total.pairs, 50 * 2 * 2);
    EXPECT_EQ(r.total.dispatch.inter_rows + r.total.dispatch.intra_rows, 0);  // self only
    // flat: 1 stage x 2 (dispatch, combine); hierarchical: 2 stages x 2; per batch and layer
    EXPECT_EQ(comm.exchanges(), 4 * 2 * (scheme == CommScheme::kFlat ? 2 : 4));
    std::vector<float> ref = run_reference(f.in(), opt, r.out_tokens);
    double md = 0, mr = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      md = std::max(md, double(std::fabs(ref[i] - r.out_hidden[i]))), mr = std::max(mr, double(std::fabs(ref[i])));
    EXPECT_GT(mr, 0.1);
    EXPECT_LE(md / mr, 1e-5);
    // The FFN changed the state: the output is not the initial hidden state.
    EngineOptions zero = opt;
    zero.num_layers = 1;
    std::vector<float> one_layer = run_reference(f.in(), zero, r.out_tokens);
    EXPECT_NE(one_layer, ref);
  }
}

TEST(LoopbackEngine, RejectsMismatchedInputs) {
  Fixture f;
  EngineOptions opt;
  EXPECT_THROW(check_engine_inputs(f.in(), opt, 2), InputError);  // world 2 vs 1 GPU
  Placement other = testing::contiguous_placement(f.model, 2, 1);
  EngineInputs in = f.in();
  in.placement = &other;
  try {
    check_engine_inputs(in, opt, 1);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("2x1 topology"), std::string::npos) << e.what();
  }
  Placement wrong_model = f.pl;
  wrong_model.model = "deepseek-v2-lite";
  in.placement = &wrong_model;
  EXPECT_THROW(check_engine_inputs(in, opt, 1), InputError);
  opt.num_layers = 3;
  EXPECT_THROW(check_engine_inputs(f.in(), opt, 1), InputError);  // more layers than placed
}

}  // namespace grace::engine
