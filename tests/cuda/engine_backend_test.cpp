// The engine's cuda backend (grace/cuda/gpu_backend.h) through the engine's own driver loop
// (run_engine) with two ranks (two GPUs, or two emulated hosts sharing one: two_ranks.h): every
// token of every rank against the
// engine's single-process F32 reference (run_reference), trace and gate routing, flat and
// hierarchical, 2 layers x 2 batches (gate routing: 1 layer), routers with a GPU kernel (primary,
// tar) and without (routed on the host). BF16 activations: rel. error <= 2e-2. Skips without a
// GPU or without NCCL.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda/gpu_test_util.h"
#include "cuda/two_ranks.h"
#include "grace/cuda/gpu_backend.h"
#include "grace/cuda/nccl_comm.h"
#include "grace/engine/backend.h"
#include "grace/engine/engine.h"
#include "grace/engine/weights.h"
#include "grace/model.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/router.h"
#include "grace/synth.h"
#include "grace/topology.h"

namespace grace::cuda {
namespace {

struct BackendCase {
  const char* topo;
  const char* planner;
  const char* router;
  bool hier, gate;
};

class CudaEngineBackendTest : public ::testing::TestWithParam<BackendCase> {};

TEST_P(CudaEngineBackendTest, MatchesTheReference) {
  if (const std::string why = testing::two_ranks_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const BackendCase c = GetParam();
  ModelSpec model = generic_model(2, 16, 4, 256, 128);
  model.name = "test-model";
  SynthOptions so;
  so.tokens = 600;
  so.seed = 9;
  const Trace trace = synthesize_trace(model, so);
  const Topology topo = parse_topology(c.topo);
  Placement pl = make_planner(c.planner)->plan(PlanContext{build_profile(trace), model, topo, PlanOptions{}});
  pl.model = model.name;
  // Returns {rel. error, tokens out, rows that crossed GPUs}.
  auto body = [&](int rank, int device, const NcclId& id) -> std::vector<double> {
    {
      auto world = make_nccl_comm(id, rank, 2, device);
      auto router = make_router(c.router, pl, topo, 3);
      auto weights = engine::make_weight_source("random:4", model.hidden, model.moe_intermediate, 0);
      engine::EngineInputs in{&trace, &pl, &topo, model, router.get(), weights.get()};
      engine::EngineOptions opt;
      opt.comm = c.hier ? CommScheme::kHierarchical : CommScheme::kFlat;
      opt.gate_routing = c.gate;
      opt.bf16_activations = true;
      opt.batch_tokens = 300;
      opt.keep_outputs = true;
      opt.warmup_batches = 1;
      opt.seed = 2;
      // Gate routing: one layer. After a layer the BF16 hidden states differ from the F32
      // reference by ~1 BF16 ulp, enough to flip near-tied top-k choices of the next gate.
      if (c.gate) opt.num_layers = 1;
      auto backend = make_cuda_backend(*world, in, opt, device, 3);
      engine::EngineResult r = engine::run_engine(*world, *backend, in, opt);
      const std::vector<float> ref = engine::run_reference(in, opt, r.out_tokens);
      double md = 0, mr = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(r.out_hidden[i])) md = INFINITY;
        md = std::max(md, double(std::fabs(r.out_hidden[i] - ref[i])));
        mr = std::max(mr, double(std::fabs(ref[i])));
      }
      return {mr > 0 ? md / mr : md, double(r.out_tokens.size()),
              double(r.total.dispatch.inter_rows + r.total.dispatch.intra_rows)};
    }
  };
  const auto out = testing::run_two_ranks(body);
  for (int r = 0; r < 2; ++r) {
    ASSERT_TRUE(out[r].error.empty()) << "rank " << r << ": " << out[r].error << "\n" << out[r].log;
    ASSERT_EQ(out[r].values.size(), 3u) << "rank " << r;
    EXPECT_LE(out[r].values[0], 2e-2) << "rank " << r;
  }
  EXPECT_EQ(out[0].values[1] + out[1].values[1], 600);
  EXPECT_GT(out[0].values[2] + out[1].values[2], 0);  // rows crossed GPUs
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaEngineBackendTest,
                         ::testing::Values(BackendCase{"2x1", "contiguous", "primary", false, false},
                                           BackendCase{"2x1", "eplb", "tar", false, false},
                                           BackendCase{"2x1", "grace", "tar", true, false},
                                           BackendCase{"1x2", "eplb", "tar", true, false},
                                           BackendCase{"2x1", "contiguous", "primary", false, true},
                                           BackendCase{"1x2", "grace", "tar", true, true},
                                           // Routers with no GPU kernel: routed on the host.
                                           BackendCase{"2x1", "grace", "cover", true, false},
                                           BackendCase{"2x1", "eplb", "wrr", false, false},
                                           BackendCase{"1x2", "grace", "load-aware", false, false},
                                           BackendCase{"2x1", "grace", "cover", false, true},
                                           BackendCase{"2x1", "grace", "round-robin", true, false}),
                         [](const auto& info) {
                           const BackendCase& c = info.param;
                           std::string s = std::string(c.topo) + "_" + c.planner + "_" + c.router + "_" +
                                           (c.hier ? "hier" : "flat") + (c.gate ? "_gate" : "_trace");
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
}  // namespace grace::cuda
