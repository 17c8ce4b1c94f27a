// GpuMoeEngine with two ranks (two GPUs, or two emulated hosts sharing one: two_ranks.h): flat and hierarchical
// dispatch on 2x1 (two one-GPU "nodes": stage 1 crosses, stage 2 is local) and 1x2 (one node: stage 2 crosses), primary
// and tar routing on contiguous and replicated (eplb) placements, each output row compared with the single-GPU
// LocalMoeLayer over all experts plus the residual. Each rank runs a schedule of batch sizes, so the dispatch messages'
// capacities (no count exchange; see src/cuda/a2a_stage.h) are exercised empty (first call: everything overflows), with
// room to spare, and too small (part of the units in the message, the rest in the overflow exchange); every call's
// outputs are checked. Skips without a GPU or without NCCL.
#include "grace/cuda/gpu_engine.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "cuda/gpu_test_util.h"
#include "cuda/two_ranks.h"
#include "cuda/wire_capacity.h"
#include "grace/cuda/moe_layer.h"
#include "grace/cuda/nccl_comm.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/routing_table.h"
#include "grace/synth.h"
#include "grace/topology.h"

namespace grace::cuda {
namespace {

struct EngineCase {
  const char* topo;
  const char* planner;
  const char* router;
  bool hier;
};

class GpuEngineTest : public ::testing::TestWithParam<EngineCase> {};

TEST_P(GpuEngineTest, MatchesSingleGpuReference) {
  if (const std::string why = testing::two_ranks_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const EngineCase c = GetParam();
  constexpr int E = 8, k = 2;
  constexpr int64_t H = 256, I = 128, T = 300;
  ModelSpec model = generic_model(1, E, k, H, I);
  SynthOptions so;
  so.tokens = 2 * T;
  so.seed = 7;
  const Trace trace = synthesize_trace(model, so);
  const Topology topo = parse_topology(c.topo);
  const Placement pl = make_planner(c.planner)->plan(PlanContext{build_profile(trace), model, topo, PlanOptions{}});
  const RoutingTable table(pl, topo);
  // Tokens per call: call 1 fits the capacities call 0 left (rank 0 the same, rank 1 fewer);
  // call 2 and 3 send more than the capacities that calls 1 and 2 left.
  constexpr int kCalls = 4;
  const int64_t sched[2][kCalls] = {{T, T, T / 3, T}, {T, T / 2, T, T}};
  // A rank's result: per call {rel. error, overflow exchanges, exchanges, wire bytes, payload bytes},
  // then the rows that crossed GPUs.
  constexpr int kPerCall = 5;
  auto body = [&](int rank, int device, const NcclId& id) -> std::vector<double> {
    std::vector<double> res;
    int64_t crossed = 0;
    {
      set_device(device);
      std::vector<int32_t> ids(T * k);
      std::vector<float> w(T * k);
      for (int64_t i = 0; i < T * k; ++i) {
        ids[i] = trace.ids[rank * T * k + i];
        w[i] = 0.25f + 0.5f * float((i * 7 + rank) % 5) / 4;
      }
      DeviceBuffer<int32_t> d_ids;
      DeviceBuffer<float> d_w;
      d_ids.upload(ids.data(), ids.size());
      d_w.upload(w.data(), w.size());
      DeviceBuffer<bf16_t> x(T * H), y(T * H), ref(T * H), w13(size_t(E) * 2 * I * H), w2(size_t(E) * H * I);
      fill_uniform_bf16(x.get(), T * H, 100 + rank, 1.0f);
      for (int e = 0; e < E; ++e)
        fill_expert_weights(e, 5, H, I, w13.get() + size_t(e) * 2 * I * H, w2.get() + size_t(e) * H * I);
      LocalMoeLayer full(E, k, H, I);
      full.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), ref.get());
      synchronize();
      GpuEngineConfig cfg;
      cfg.rank = rank;
      cfg.size = 2;
      cfg.device = device;
      cfg.top_k = k;
      cfg.hidden = H;
      cfg.inter = I;
      cfg.hierarchical = c.hier;
      cfg.router = parse_device_router(c.router);
      GpuMoeEngine eng(id, cfg, pl, topo, table);
      std::vector<bf16_t> hx(T * H), hy(T * H), hr(T * H);
      x.download(hx.data(), hx.size());
      ref.download(hr.data(), hr.size());
      for (int call = 0; call < kCalls; ++call) {
        const int64_t Tn = sched[rank][call];
        fill_bytes(y.get(), 0xff, size_t(T) * H * 2);  // NaN poison: every row must be written
        const GpuLayerStats st = eng.forward(x.get(), d_ids.get(), d_w.get(), Tn, rank * T, y.get());
        crossed += st.rows_inter + st.rows_intra;
        y.download(hy.data(), hy.size());
        std::vector<float> got(size_t(Tn * H)), want(size_t(Tn * H));
        for (size_t i = 0; i < got.size(); ++i) {
          got[i] = bf16_to_float(hy[i]);
          want[i] = bf16_to_float(hx[i]) + bf16_to_float(hr[i]);
        }
        res.insert(res.end(),
                   {testing::rel_error(got, want), double(st.overflow_exchanges), double(st.exchanges),
                    double(st.wire_bytes_inter + st.wire_bytes_intra), double(st.bytes_inter + st.bytes_intra)});
      }
    }
    res.push_back(double(crossed));
    return res;
  };
  const auto out = testing::run_two_ranks(body);
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(out[r].error, "") << "rank " << r << "\n" << out[r].log;
    ASSERT_EQ(out[r].values.size(), size_t(kCalls * kPerCall + 1)) << "rank " << r;
  }
  auto at = [&](int r, int call, int field) { return out[r].values[size_t(call * kPerCall + field)]; };
  for (int r = 0; r < 2; ++r)
    for (int call = 0; call < kCalls; ++call) EXPECT_LT(at(r, call, 0), 1e-2) << "rank " << r << ", call " << call;
  // Some rows must really have crossed GPUs (8 experts on 2 GPUs, 300 tokens each).
  EXPECT_GT(out[0].values.back() + out[1].values.back(), 0);
  // One grouped exchange per NCCL stage and direction once the units fit: flat 2, hierarchical
  // 2x1 2 (its node stage has one GPU: device copies), hierarchical 1x2 4.
  const int stages = c.hier && std::string(c.topo) == "1x2" ? 2 : 1;
  for (int r = 0; r < 2; ++r) {
    EXPECT_GE(at(r, 0, 1), 1) << "rank " << r << ": the first call has no capacity yet";
    EXPECT_EQ(at(r, 1, 1), 0) << "rank " << r;
    EXPECT_EQ(at(r, 1, 2), 2 * stages) << "rank " << r;
    EXPECT_GE(at(r, 2, 1) + at(r, 3, 1), 1) << "rank " << r;
    EXPECT_GE(at(r, 1, 3), at(r, 1, 4)) << "rank " << r;
  }
}

// The capacity rule both ends of a dispatch message evaluate (host code: runs without a GPU).
TEST(WireCapacity, ScalesTheLastUnitsByTheSendersTokens) {
  EXPECT_EQ(capacity_for(WireHistory{}, 1000), 0);  // no history: everything overflows once
  EXPECT_EQ(capacity_for(WireHistory{0, 500}, 1000), 32);
  // 960 units from 1000 tokens; now 1000 tokens: 960 + 30 + 32.
  EXPECT_EQ(capacity_for(WireHistory{960, 1000}, 1000), 1022);
  // Now 500 tokens: half the units (480) + 15 + 32; 1500 tokens: 1440 + 45 + 32.
  EXPECT_EQ(capacity_for(WireHistory{960, 1000}, 500), 527);
  EXPECT_EQ(capacity_for(WireHistory{960, 1000}, 1500), 1517);
  // Scaling rounds up: 7 units from 3 tokens, now 2 tokens -> ceil(14 / 3) = 5 + 0 + 32.
  EXPECT_EQ(capacity_for(WireHistory{7, 3}, 2), 37);
  // Token counts unknown (-1) on either side: the last units alone.
  EXPECT_EQ(capacity_for(WireHistory{960, -1}, 1000), 1022);
  EXPECT_EQ(capacity_for(WireHistory{960, 1000}, -1), 1022);
  EXPECT_EQ(capacity_for(WireHistory{960, 0}, 1000), 1022);
  // Never below what the same tokens sent last time.
  for (int64_t u : {0, 1, 31, 32, 1000, 49152})
    for (int64_t t : {1, 1024, 8192}) EXPECT_GE(capacity_for(WireHistory{u, t}, t), u);
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuEngineTest,
                         ::testing::Values(EngineCase{"2x1", "contiguous", "primary", false},
                                           EngineCase{"2x1", "eplb", "tar", false},
                                           EngineCase{"2x1", "grace", "tar", true},
                                           EngineCase{"1x2", "contiguous", "primary", true},
                                           EngineCase{"1x2", "eplb", "tar", true}),
                         [](const auto& info) {
                           std::string n = std::string(info.param.topo) + "_" + info.param.planner + "_" +
                                           info.param.router + (info.param.hier ? "_hier" : "_flat");
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace grace::cuda
