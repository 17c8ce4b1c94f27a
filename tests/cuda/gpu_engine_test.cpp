// GpuMoeEngine on two GPUs (two threads, one rank each): flat and hierarchical dispatch on 2x1
// (two one-GPU "nodes": stage 1 crosses, stage 2 is local) and 1x2 (one node: stage 2 crosses),
// primary and tar routing on contiguous and replicated (eplb) placements, each output row
// compared with the single-GPU LocalMoeLayer over all experts plus the residual. Each rank runs
// a schedule of batch sizes, so the dispatch messages' capacities (no count exchange; see
// src/cuda/a2a_stage.h) are exercised empty (first call: everything overflows), with room to
// spare, and too small (part of the units in the message, the rest in the overflow exchange);
// every call's outputs are checked. Skips with fewer than two GPUs or without NCCL.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "cuda/gpu_test_util.h"
#include "cuda/wire_capacity.h"
#include "grace/cuda/gpu_engine.h"
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
  if (device_count() < 2) GTEST_SKIP() << "needs 2 CUDA GPUs, found " << device_count() << ": skipped";
  if (!have_nccl()) GTEST_SKIP() << "built without NCCL: skipped";
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
  const NcclId id = nccl_unique_id();
  // Tokens per call: call 1 fits the capacities call 0 left (rank 0 the same, rank 1 fewer);
  // call 2 and 3 send more than the capacities that calls 1 and 2 left.
  constexpr int kCalls = 4;
  const int64_t sched[2][kCalls] = {{T, T, T / 3, T}, {T, T / 2, T, T}};
  double err[2][kCalls];
  GpuLayerStats stats[2][kCalls];
  int64_t crossed[2] = {0, 0};
  std::string errors[2];
  auto body = [&](int rank) {
    try {
      set_device(rank);
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
      for (int e = 0; e < E; ++e) fill_expert_weights(e, 5, H, I, w13.get() + size_t(e) * 2 * I * H, w2.get() + size_t(e) * H * I);
      LocalMoeLayer full(E, k, H, I);
      full.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), ref.get());
      synchronize();
      GpuEngineConfig cfg;
      cfg.rank = rank;
      cfg.size = 2;
      cfg.device = rank;
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
        stats[rank][call] = st;
        crossed[rank] += st.rows_inter + st.rows_intra;
        y.download(hy.data(), hy.size());
        std::vector<float> got(size_t(Tn * H)), want(size_t(Tn * H));
        for (size_t i = 0; i < got.size(); ++i) {
          got[i] = bf16_to_float(hy[i]);
          want[i] = bf16_to_float(hx[i]) + bf16_to_float(hr[i]);
        }
        err[rank][call] = testing::rel_error(got, want);
      }
    } catch (const std::exception& e) {
      errors[rank] = e.what();
    }
  };
  std::thread t0(body, 0), t1(body, 1);
  t0.join();
  t1.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  for (int r = 0; r < 2; ++r)
    for (int call = 0; call < kCalls; ++call) EXPECT_LT(err[r][call], 1e-2) << "rank " << r << ", call " << call;
  // Some rows must really have crossed GPUs (8 experts on 2 GPUs, 300 tokens each).
  EXPECT_GT(crossed[0] + crossed[1], 0);
  // One grouped exchange per NCCL stage and direction once the units fit: flat 2, hierarchical
  // 2x1 2 (its node stage has one GPU: device copies), hierarchical 1x2 4.
  const int stages = c.hier && std::string(c.topo) == "1x2" ? 2 : 1;
  for (int r = 0; r < 2; ++r) {
    EXPECT_GE(stats[r][0].overflow_exchanges, 1) << "rank " << r << ": the first call has no capacity yet";
    EXPECT_EQ(stats[r][1].overflow_exchanges, 0) << "rank " << r;
    EXPECT_EQ(stats[r][1].exchanges, 2 * stages) << "rank " << r;
    EXPECT_GE(stats[r][2].overflow_exchanges + stats[r][3].overflow_exchanges, 1) << "rank " << r;
    EXPECT_GE(stats[r][1].wire_bytes_inter + stats[r][1].wire_bytes_intra,
              stats[r][1].bytes_inter + stats[r][1].bytes_intra);
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

INSTANTIATE_TEST_SUITE_P(
    Cases, GpuEngineTest,
    ::testing::Values(EngineCase{"2x1", "contiguous", "primary", false}, EngineCase{"2x1", "eplb", "tar", false},
                      EngineCase{"2x1", "grace", "tar", true}, EngineCase{"1x2", "contiguous", "primary", true},
                      EngineCase{"1x2", "eplb", "tar", true}),
    [](const auto& info) {
      std::string n = std::string(info.param.topo) + "_" + info.param.planner + "_" + info.param.router +
                      (info.param.hier ? "_hier" : "_flat");
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

}  // namespace
}  // namespace grace::cuda
