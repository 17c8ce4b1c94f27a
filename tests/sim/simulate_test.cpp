// Simulator on hand-built LayerBatchRecords: exact times from the constants, and monotonicity.
#include "grace/simulate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/topology.h"

namespace grace {
namespace {

Topology small_topo(int nodes, int gpus) {
  Topology t;
  t.name = "test";
  t.nodes = nodes;
  t.gpus_per_node = gpus;
  t.intra = {100.0, 5.0};
  t.inter = {10.0, 20.0};
  t.node_nic_GBps = 0;
  t.peak_tflops = 100;  // no compute curve: every GEMM runs at peak
  t.validate();
  return t;
}

LayerBatchRecord empty_record(int G) {
  LayerBatchRecord r;
  r.gpu_pairs.assign(G, 0);
  r.gpu_expert_tokens.assign(G, {});
  r.send_intra.assign(G, 0);
  r.recv_intra.assign(G, 0);
  r.send_inter.assign(G, 0);
  r.recv_inter.assign(G, 0);
  return r;
}

// One record on 1x2 (flat): GPU 0 hosts {300, 0} tokens, GPU 1 {64, 30, 0}; both exchange 30
// copies. The two compute models disagree on which GPU is slower.
LayerBatchRecord two_gpu_record() {
  LayerBatchRecord r = empty_record(2);
  r.gpu_expert_tokens = {{300, 0}, {64, 30, 0}};
  r.gpu_pairs = {300, 94};
  r.send_intra = {30, 10};
  r.recv_intra = {10, 30};
  return r;
}

double two_gpu_comm_us(const Topology& topo) {
  const double bytes = 30.0 * 1024 * 2;  // 30 copies of a bf16 hidden state of 1024
  return topo.intra.latency_us + bytes / (topo.intra.bandwidth_GBps * 1e9) * 1e6;
}

TEST(Simulate, TwoGpusOneNodeFlatByHandPerExpert) {
  Topology topo = small_topo(1, 2);
  topo.compute_model = ComputeModel::kPerExpert;
  topo.compute = {{16, 10}, {256, 50}};  // 10 TFLOP/s per log2 unit between 16 and 256 tokens
  topo.kernel_overhead_us = 3;
  topo.validate();
  ModelSpec model = generic_model(1, 4, 2, 1024, 512);
  LayerTime t = simulate_record(two_gpu_record(), CommScheme::kFlat, topo, model);

  const double comm = two_gpu_comm_us(topo);
  const double flops = 6.0 * 1024 * 512;
  auto tf = [](double n) { return 10 + (std::log2(n) - 4) * 10; };  // on [16, 256]
  // 300 tokens: past the last point, 50 TFLOP/s. 64 and 30 tokens: on the rising side of the
  // segment (its time minimum is where tf = 10 / ln 2, at ~21.8 tokens), so no padding helps.
  const double c0 = 3 + 300 * flops / (50 * 1e12) * 1e6;
  const double c1 = 3 + 64 * flops / (tf(64) * 1e12) * 1e6 + 30 * flops / (tf(30) * 1e12) * 1e6;
  ASSERT_GT(c0, c1);
  EXPECT_NEAR(t.dispatch_us, comm, 1e-9);
  EXPECT_NEAR(t.combine_us, comm, 1e-9);
  EXPECT_NEAR(t.dispatch_inter_us, 0.0, 1e-12);
  EXPECT_NEAR(t.compute_us, c0, 1e-9);
  EXPECT_NEAR(t.total_us, 2 * comm + c0, 1e-9);
  EXPECT_NEAR(t.idle_share, (c0 - c1) / (2 * c0), 1e-12);
  EXPECT_LE(t.overlap_us, t.total_us + 1e-12);

  // 10 tokens sit on the falling side: padding to the segment's minimum (tf = 10 / ln 2) is faster.
  const double s = std::exp2(4 + (10 / std::log(2.0) - 10) / 10);
  EXPECT_NEAR(expert_compute_us(10, topo, model), s * flops / (10 / std::log(2.0) * 1e12) * 1e6, 1e-9);
  EXPECT_LT(expert_compute_us(10, topo, model), 10 * flops / (10.0 * 10 / 16 * 1e12) * 1e6);
}

TEST(Simulate, TwoGpusOneNodeFlatByHandGrouped) {
  Topology topo = small_topo(1, 2);
  topo.compute_model = ComputeModel::kGrouped;
  topo.hbm_GBps = 100;
  topo.grouped_tflops = 20;
  topo.kernel_overhead_us = 3;
  topo.compute = {{16, 10}, {256, 50}};  // ignored by the grouped model
  topo.validate();
  ModelSpec model = generic_model(1, 4, 2, 1024, 512);
  LayerTime t = simulate_record(two_gpu_record(), CommScheme::kFlat, topo, model);

  const double comm = two_gpu_comm_us(topo);
  const double weights = 3.0 * 1024 * 512 * 2 / (100 * 1e9) * 1e6;  // one instance: 31.46 us
  const double per_token = 6.0 * 1024 * 512 / (20 * 1e12) * 1e6;    // 0.157 us
  const double c0 = 3 + std::max(1 * weights, 300 * per_token);     // FLOP-bound: 50.2 us
  const double c1 = 3 + std::max(2 * weights, 94 * per_token);      // weight-bound: 65.9 us
  ASSERT_GT(300 * per_token, weights);
  ASSERT_GT(2 * weights, 94 * per_token);
  EXPECT_NEAR(t.dispatch_us, comm, 1e-9);
  EXPECT_NEAR(t.combine_us, comm, 1e-9);
  EXPECT_NEAR(t.compute_us, c1, 1e-9);
  EXPECT_NEAR(t.total_us, 2 * comm + c1, 1e-9);
  EXPECT_NEAR(t.idle_share, (c1 - c0) / (2 * c1), 1e-12);
  EXPECT_LE(t.overlap_us, t.total_us + 1e-12);

  // A chunk of two streams the weights again and computes half the tokens.
  const std::vector<int32_t> gpu0 = {300, 0}, gpu1 = {64, 30, 0};
  EXPECT_NEAR(gpu_compute_us(gpu0, 2, topo, model), 3 + std::max(weights, 150 * per_token), 1e-9);
  EXPECT_NEAR(gpu_compute_us(gpu1, 2, topo, model), 3 + 2 * weights, 1e-9);
  EXPECT_EQ(gpu_compute_us({0, 0}, 1, topo, model), 0.0);
  // hbm_GBps = 0: weights are not modelled; grouped_tflops = 0: peak_tflops (100) is used.
  topo.hbm_GBps = 0;
  topo.grouped_tflops = 0;
  EXPECT_NEAR(gpu_compute_us(gpu1, 1, topo, model), 3 + 94 * 6.0 * 1024 * 512 / (100 * 1e12) * 1e6, 1e-9);
}

TEST(Simulate, SharedNicAndHierarchicalStagesByHand) {
  Topology topo = small_topo(2, 2);
  topo.node_nic_GBps = 15;  // the NIC is slower than two GPUs' links together
  ModelSpec model = generic_model(1, 8, 2, 1024, 512);
  LayerBatchRecord r = empty_record(4);
  r.send_inter = {30, 20, 10, 0};
  r.recv_inter = {0, 10, 20, 30};
  r.send_intra = {0, 0, 4, 0};
  r.recv_intra = {0, 0, 0, 4};
  const double cb = 2048.0;  // bytes per copy
  auto us = [](double bytes, double GBps) { return bytes / (GBps * 1e3); };

  // Cross-node stage: node 0 sends 50 copies through its NIC, node 1 receives 50; GPU 0's own
  // link carries 30 copies. The slowest GPU waits for max(own link, node NIC).
  double nic = topo.inter.latency_us + us(50 * cb, topo.node_nic_GBps);
  double own0 = topo.inter.latency_us + us(30 * cb, topo.inter.bandwidth_GBps);
  double own3 = topo.inter.latency_us + us(30 * cb, topo.inter.bandwidth_GBps);
  double inter = std::max({nic, own0, own3});
  double intra = topo.intra.latency_us + us(4 * cb, topo.intra.bandwidth_GBps);

  LayerTime h = simulate_record(r, CommScheme::kHierarchical, topo, model);
  EXPECT_NEAR(h.dispatch_inter_us, inter, 1e-9);
  EXPECT_NEAR(h.dispatch_intra_us, intra, 1e-9);
  EXPECT_NEAR(h.dispatch_us, inter + intra, 1e-9);
  EXPECT_NEAR(h.combine_us, inter + intra, 1e-9);
  EXPECT_EQ(h.compute_us, 0.0);
  EXPECT_EQ(h.idle_share, 0.0);

  // Flat: one stage, tiers in parallel: the slowest GPU's larger tier.
  LayerTime f = simulate_record(r, CommScheme::kFlat, topo, model);
  EXPECT_NEAR(f.dispatch_us, std::max(inter, intra), 1e-9);

  // Without the NIC constraint, only the per-GPU links count.
  topo.node_nic_GBps = 0;
  LayerTime h2 = simulate_record(r, CommScheme::kHierarchical, topo, model);
  EXPECT_NEAR(h2.dispatch_inter_us, own0, 1e-9);
}

// peer_latency_us is paid once per peer GPU of the stage: flat all-to-all on 2x3 exchanges with
// the other node's 3 GPUs, hierarchical's inter stage with one GPU of it; the intra tier with
// the node's 2 other GPUs.
TEST(Simulate, PeerLatencyPerPeerOfEachStage) {
  Topology topo = small_topo(2, 3);
  ModelSpec model = generic_model(1, 8, 2, 1024, 512);
  LayerBatchRecord r = empty_record(6);
  r.send_inter = {10, 10, 10, 10, 10, 10};
  r.recv_inter = {10, 10, 10, 10, 10, 10};
  r.send_intra = {6, 6, 6, 6, 6, 6};
  r.recv_intra = {6, 6, 6, 6, 6, 6};
  const LayerTime h0 = simulate_record(r, CommScheme::kHierarchical, topo, model);
  const LayerTime f0 = simulate_record(r, CommScheme::kFlat, topo, model);
  topo.inter.peer_latency_us = 1000;  // far above every other term: the flat stage is the inter one
  topo.intra.peer_latency_us = 7;
  const LayerTime h = simulate_record(r, CommScheme::kHierarchical, topo, model);
  const LayerTime f = simulate_record(r, CommScheme::kFlat, topo, model);
  EXPECT_NEAR(h.dispatch_inter_us, h0.dispatch_inter_us + 1 * 1000, 1e-9);
  EXPECT_NEAR(h.dispatch_intra_us, h0.dispatch_intra_us + 2 * 7, 1e-9);
  EXPECT_NEAR(f.dispatch_us, f0.dispatch_inter_us + 3 * 1000, 1e-9);
  EXPECT_NEAR(f.combine_us, f.dispatch_us, 1e-9);  // the record is symmetric
}

TEST(Simulate, NothingToSendCostsNoLatency) {
  Topology topo = small_topo(2, 2);
  ModelSpec model = generic_model(1, 8, 2);
  LayerBatchRecord r = empty_record(4);
  r.gpu_expert_tokens = {{8}, {8}, {8}, {8}};
  LayerTime t = simulate_record(r, CommScheme::kHierarchical, topo, model);
  EXPECT_EQ(t.dispatch_us, 0.0);
  EXPECT_EQ(t.combine_us, 0.0);
  EXPECT_GT(t.compute_us, 0.0);
  EXPECT_NEAR(t.idle_share, 0.0, 1e-12);
  EXPECT_NEAR(t.total_us, t.compute_us, 1e-12);
}

TEST(Simulate, KernelOverheadOnlyOnBusyGpus) {
  Topology topo = small_topo(1, 2);
  topo.kernel_overhead_us = 7;
  ModelSpec model = generic_model(1, 4, 2);
  LayerBatchRecord r = empty_record(2);
  r.gpu_expert_tokens = {{0, 0}, {0, 0}};
  EXPECT_EQ(simulate_record(r, CommScheme::kFlat, topo, model).compute_us, 0.0);
  r.gpu_expert_tokens = {{1, 0}, {0, 0}};
  EXPECT_NEAR(simulate_record(r, CommScheme::kFlat, topo, model).compute_us, 7 + expert_compute_us(1, topo, model),
              1e-12);
}

TEST(Simulate, OverlapHelpsWhenCommAndComputeBalance) {
  Topology topo = small_topo(2, 1);
  topo.inter.latency_us = 0.1;
  ModelSpec model = generic_model(1, 4, 2, 2048, 1408);
  LayerBatchRecord r = empty_record(2);
  r.gpu_expert_tokens = {{4000}, {4000}};
  r.send_inter = {4000, 4000};
  r.recv_inter = {4000, 4000};
  LayerTime t = simulate_record(r, CommScheme::kHierarchical, topo, model, SimOptions{8});
  EXPECT_GT(t.best_chunks, 1);
  EXPECT_LT(t.overlap_us, 0.8 * t.total_us);
  LayerTime one = simulate_record(r, CommScheme::kHierarchical, topo, model, SimOptions{1});
  EXPECT_EQ(one.overlap_us, one.total_us);
}

TEST(Simulate, ComputeTimeIsMonotoneOnCalibratedCurve) {
  // The calibrated curves rise faster than linearly in places; the envelope keeps time monotone.
  ModelSpec model = load_model("deepseek-v2-lite");
  for (const char* spec : {"paper", "h200"}) {
    Topology topo = parse_topology(spec);
    double prev = 0;
    for (double n = 1; n <= 40000; n *= 1.01) {
      double t = expert_compute_us(n, topo, model);
      EXPECT_GE(t, prev - 1e-9) << spec << " at " << n << " tokens";
      EXPECT_LE(t, n * model.expert_flops_per_token() / (topo.tflops_at(n) * 1e6) + 1e-9);
      prev = t;
    }
  }
}

LayerBatchRecord random_record(std::mt19937_64& rng, int G, int slots) {
  LayerBatchRecord r = empty_record(G);
  std::uniform_int_distribution<int> tok(0, 600), cp(0, 3000);
  for (int g = 0; g < G; ++g) {
    r.gpu_expert_tokens[g].resize(slots);
    for (auto& n : r.gpu_expert_tokens[g]) n = tok(rng) < 100 ? 0 : tok(rng);
    r.send_intra[g] = cp(rng);
    r.recv_intra[g] = cp(rng);
    r.send_inter[g] = cp(rng);
    r.recv_inter[g] = cp(rng);
  }
  return r;
}

TEST(Simulate, Monotonicity) {
  ModelSpec model = load_model("deepseek-v2-lite");
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    Topology base = parse_topology(trial % 2 ? "2x4" : "2x4@h200");
    if (trial % 4 >= 2) base.compute_model = ComputeModel::kPerExpert;
    LayerBatchRecord r = random_record(rng, base.num_gpus(), 9);
    for (CommScheme comm : {CommScheme::kFlat, CommScheme::kHierarchical}) {
      LayerTime t0 = simulate_record(r, comm, base, model);
      auto check_not_faster = [&](const LayerTime& t, const char* what) {
        EXPECT_GE(t.total_us, t0.total_us - 1e-9) << what;
        EXPECT_GE(t.overlap_us, t0.overlap_us - 1e-9) << what;
      };
      auto check_not_slower = [&](const LayerTime& t, const char* what) {
        EXPECT_LE(t.total_us, t0.total_us + 1e-9) << what;
        EXPECT_LE(t.overlap_us, t0.overlap_us + 1e-9) << what;
      };
      Topology more_bw = base;
      more_bw.intra.bandwidth_GBps *= 1.5;
      more_bw.inter.bandwidth_GBps *= 2;
      if (more_bw.node_nic_GBps > 0) more_bw.node_nic_GBps *= 1.3;
      check_not_slower(simulate_record(r, comm, more_bw, model), "more bandwidth");
      Topology more_lat = base;
      more_lat.intra.latency_us += 3;
      more_lat.inter.latency_us += 11;
      check_not_faster(simulate_record(r, comm, more_lat, model), "more latency");
      Topology more_peer_lat = base;
      more_peer_lat.intra.peer_latency_us += 2;
      more_peer_lat.inter.peer_latency_us += 5;
      check_not_faster(simulate_record(r, comm, more_peer_lat, model), "more latency per peer");
      // More load on one GPU: more tokens on one of its instances, and more copies to receive.
      LayerBatchRecord heavier = r;
      int g = trial % base.num_gpus();
      heavier.gpu_expert_tokens[g][trial % 9] += 1 + trial * 37;
      heavier.recv_inter[g] += 50;
      heavier.recv_intra[g] += 50;
      check_not_faster(simulate_record(heavier, comm, base, model), "more load");
      EXPECT_LE(t0.overlap_us, t0.total_us + 1e-9);
    }
  }
}

TEST(Simulate, AggregatesRecordsPerLayer) {
  Topology topo = small_topo(1, 2);
  ModelSpec model = generic_model(2, 4, 2);
  EvalResult e;
  e.comm = CommScheme::kFlat;
  e.num_layers = 2;
  e.num_gpus = 2;
  e.num_batches = 2;
  e.batch_tokens = 64;
  for (int b = 0; b < 2; ++b)
    for (int l = 0; l < 2; ++l) {
      LayerBatchRecord r = empty_record(2);
      r.batch = b;
      r.layer = l;
      r.gpu_expert_tokens = {{10 * (b + 1) + l}, {5}};
      r.send_intra = {b + l, 1};
      r.recv_intra = {1, b + l};
      e.records.push_back(r);
    }
  SimResult s = simulate(e, topo, model);
  ASSERT_EQ(s.per_layer.size(), 2u);
  for (int l = 0; l < 2; ++l) {
    double want = 0;
    for (const auto& r : e.records)
      if (r.layer == l) want += simulate_record(r, e.comm, topo, model).total_us / 2;
    EXPECT_NEAR(s.per_layer[l].total_us, want, 1e-9);
  }
  EXPECT_NEAR(s.batch_total.total_us, s.per_layer[0].total_us + s.per_layer[1].total_us, 1e-9);
  EXPECT_NEAR(s.mean_layer.total_us, s.batch_total.total_us / 2, 1e-9);
  EXPECT_NE(format_sim(s).find("overlap"), std::string::npos);
  EXPECT_NE(sim_json(s).find("\"mean_layer\""), std::string::npos);
  EXPECT_NE(sim_json(s).find("\"batching\":\"trace\""), std::string::npos);
  EvalResult balanced = e;  // the batching the counts were made with is reported
  balanced.batching = Batching::kBalanced;
  const SimResult sb = simulate(balanced, topo, model);
  EXPECT_NE(sim_json(sb).find("\"batching\":\"balanced\""), std::string::npos);
  EXPECT_NE(format_sim(sb).find("(balanced batching)"), std::string::npos);

  EvalResult no_records = e;
  no_records.records.clear();
  EXPECT_THROW(simulate(no_records, topo, model), InputError);
  EXPECT_THROW(simulate(e, small_topo(2, 2), model), InputError);
}

}  // namespace
}  // namespace grace
