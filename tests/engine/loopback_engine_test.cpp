// The engine on a world of one rank through an in-process loopback Comm (no MPI): output equals
// the reference, stats are consistent, and bad inputs are InputErrors naming the problem.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/loopback_comm.h"
#include "engine/test_inputs.h"
#include "grace/engine/backend.h"
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

TEST(LoopbackEngine, ReportsEveryTimedLayerCall) {
  Fixture f;
  LoopbackComm comm;
  auto compute = make_cpu_compute();
  EngineOptions opt;
  opt.batch_tokens = 16;
  opt.warmup_batches = 1;
  EngineResult r = run_engine(comm, *compute, f.in(), opt);
  // 4 batches x 2 layers, warm-up excluded; together they are the totals.
  ASSERT_EQ(r.call_s.size(), 8u);
  double sum = 0;
  for (double c : r.call_s) {
    EXPECT_GT(c, 0.0);
    sum += c;
  }
  EXPECT_NEAR(sum, r.total.dispatch_s + r.total.compute_s + r.total.combine_s, 1e-12);
  // Batch-major: call b * layers + l is batch b's layer l, whose phases per_layer[l] sums.
  for (int l = 0; l < 2; ++l) {
    double layer_sum = 0;
    for (int b = 0; b < 4; ++b) layer_sum += r.call_s[size_t(b * 2 + l)];
    const EngineLayerStats& s = r.per_layer[size_t(l)];
    EXPECT_NEAR(layer_sum, s.dispatch_s + s.compute_s + s.combine_s, 1e-12) << "layer " << l;
  }
  // The report gives their least, median and largest (a stall shows as a largest far above the
  // median), in the JSON with every call.
  r.call_s = {0.004, 0.001, 0.003, 0.002};
  const std::string j = engine_json(r);
  EXPECT_NE(j.find("\"calls\":{\"count\":4,\"max_s\":0.004,\"median_s\":0.0025,\"min_s\":0.001,"
                   "\"s\":[0.004,0.001,0.003,0.002]}"),
            std::string::npos)
      << j;
  EXPECT_NE(format_engine(r).find("layer calls: 4 timed, ms least / median / largest: 1.00 / 2.50 / 4.00\n"),
            std::string::npos)
      << format_engine(r);
  r.call_s = {0.003, 0.001, 0.002};
  EXPECT_NE(engine_json(r).find("\"median_s\":0.002,"), std::string::npos);
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

namespace grace::engine {
namespace {

// A backend that runs no layer and records, per layer call, whether the routing rows handed to
// it hold every later layer's ids of the same batch at ids + d * top_k (the LayerWork contract
// the cuda backend's routing ahead relies on).
class RowContractBackend final : public MoeBackend {
 public:
  RowContractBackend(const Trace& tr, int64_t hidden) : tr_(tr), hidden_(hidden) {}
  std::string_view name() const override { return "rows"; }
  std::string compute_name() const override { return "none"; }
  int64_t row_bytes() const override { return 0; }
  void load(int, const std::function<void(int)>&) override {}
  void begin_batch(const float* x, int64_t nl) override { x_.assign(x, x + nl * hidden_); }
  void end_batch(float* x) override { std::copy(x_.begin(), x_.end(), x); }
  double memory_bytes() const override { return 0; }
  LayerTimes layer(const LayerWork& w, const Beat&) override {
    const int k = w.top_k;
    for (int64_t t = 0; t < w.n; ++t)
      for (int l = w.layer; l < tr_.num_layers; ++l)
        for (int j = 0; j < k; ++j) {
          ++checked;
          const expert_t want = tr_.topk(w.token_index[t] - tr_.first_token, l)[j];
          if (w.ids[t * w.ids_stride + (l - w.layer) * k + j] != want) ++wrong;
        }
    ++calls;
    return {};
  }
  int64_t checked = 0, wrong = 0, calls = 0;

 private:
  const Trace& tr_;
  int64_t hidden_;
  std::vector<float> x_;
};

}  // namespace

TEST(LoopbackEngine, RoutingRowsHoldEveryLaterLayer) {
  Fixture f;
  for (Batching batching : {Batching::kTrace, Batching::kBalanced}) {
    LoopbackComm comm;
    RowContractBackend backend(f.trace, f.model.hidden);
    EngineOptions opt;
    opt.batch_tokens = 16;
    opt.batching = batching;
    run_engine(comm, backend, f.in(), opt);
    EXPECT_EQ(backend.calls, 4 * 2) << batching_name(batching);  // 4 batches x 2 layers
    EXPECT_EQ(backend.checked, 50 * (2 + 1) * 2) << batching_name(batching);
    EXPECT_EQ(backend.wrong, 0) << batching_name(batching);
  }
}

}  // namespace grace::engine
