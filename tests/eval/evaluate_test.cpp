// The evaluator's counts on a case counted by hand (2 nodes x 2 GPUs), for flat and
// hierarchical communication, plus invariants on a random case.
#include "grace/evaluate.h"

#include <gtest/gtest.h>

#include <random>

#include "grace/error.h"
#include "grace/model.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

using testing::hand_placement;
using testing::hand_topology;
using V = std::vector<int64_t>;

// GPUs 0, 1 on node 0 and 2, 3 on node 1; expert e's primary on GPU e, plus a replica of
// expert 1 on GPU 2 (unused by the primary router, but it holds a slot).
Placement hand_case_placement() { return hand_placement(2, 2, {{{{0, 1}}, {{1, 1}, {2, 1}}, {{2, 1}}, {{3, 1}}}}); }

// Five one-token sequences, so tokens land on GPUs 0, 1, 2, 3, 0 (fewest tokens, lowest id).
Trace hand_case_trace() {
  Trace t;
  t.num_layers = 1;
  t.top_k = 2;
  t.num_experts = 4;
  t.ids = {1, 2, /**/ 2, 3, /**/ 0, 1, /**/ 3, 0, /**/ 0, 1};
  t.seq_offsets = {0, 1, 2, 3, 4, 5};
  return t;
}

EvalResult run_hand(CommScheme comm, int64_t batch_tokens = 4096) {
  EvalOptions o;
  o.router = "primary";
  o.comm = comm;
  o.batch_tokens = batch_tokens;
  return evaluate(hand_case_trace(), hand_case_placement(), hand_topology(2, 2), generic_model(1, 4, 2, 1000), o);
}

TEST(Evaluate, HandCaseFlat) {
  // t0 on 0 -> {1, 2}: intra 0->1, inter 0->2.   t1 on 1 -> {2, 3}: inter 1->2, 1->3.
  // t2 on 2 -> {0, 1}: inter 2->0, 2->1.         t3 on 3 -> {3, 0}: inter 3->0.
  // t4 on 0 -> {0, 1}: intra 0->1.
  EvalResult r = run_hand(CommScheme::kFlat);
  ASSERT_EQ(r.records.size(), 1u);
  const LayerBatchRecord& rec = r.records[0];
  EXPECT_EQ(rec.tokens, 5);
  EXPECT_EQ(rec.gpu_pairs, (V{3, 3, 2, 2}));
  EXPECT_EQ(rec.gpu_expert_tokens,
            (std::vector<std::vector<int32_t>>{{3}, {3}, {2, 0}, {2}}));  // GPU 2: expert 2, replica of 1
  EXPECT_EQ(rec.send_intra, (V{2, 0, 0, 0}));
  EXPECT_EQ(rec.recv_intra, (V{0, 2, 0, 0}));
  EXPECT_EQ(rec.send_inter, (V{1, 2, 2, 1}));
  EXPECT_EQ(rec.recv_inter, (V{2, 1, 2, 1}));
  EXPECT_EQ(rec.pairs_same_gpu, 2);
  EXPECT_EQ(rec.pairs_same_node, 2);
  EXPECT_EQ(rec.pairs_remote, 6);
  EXPECT_EQ(r.total.inter_copies, 6);
  EXPECT_EQ(r.total.intra_copies, 2);
  EXPECT_EQ(r.total.pairs, 10);
  EXPECT_EQ(r.token_bytes, 2000);
  EXPECT_DOUBLE_EQ(r.inter_bytes_per_token(), 6 * 2000 / 5.0);
  EXPECT_DOUBLE_EQ(r.total.load_max_mean_sum, 3 / 2.5);
}

TEST(Evaluate, HandCaseHierarchical) {
  // Cross-node copies go to the same local rank, then fan out inside the node:
  // t0 on 0: intra 0->1; inter 0->2 (the target itself).
  // t1 on 1: inter 1->3; then 3 forwards to 2.
  // t2 on 2: inter 2->0; then 0 forwards to 1.
  // t3 on 3: inter 3->1; then 1 forwards to 0.
  // t4 on 0: intra 0->1.
  EvalResult r = run_hand(CommScheme::kHierarchical);
  ASSERT_EQ(r.records.size(), 1u);
  const LayerBatchRecord& rec = r.records[0];
  EXPECT_EQ(rec.gpu_pairs, (V{3, 3, 2, 2}));
  EXPECT_EQ(rec.send_inter, (V{1, 1, 1, 1}));
  EXPECT_EQ(rec.recv_inter, (V{1, 1, 1, 1}));
  EXPECT_EQ(rec.send_intra, (V{3, 1, 0, 1}));
  EXPECT_EQ(rec.recv_intra, (V{1, 3, 1, 0}));
  EXPECT_EQ(r.total.inter_copies, 4);
  EXPECT_EQ(r.total.intra_copies, 5);
}

TEST(Evaluate, BatchingAndTotalsEqualSumOfRecords) {
  for (CommScheme comm : {CommScheme::kFlat, CommScheme::kHierarchical}) {
    EvalResult whole = run_hand(comm);
    EvalResult r = run_hand(comm, 2);  // batches [t0 t1] [t2 t3] [t4]
    EXPECT_EQ(r.num_batches, 3);
    ASSERT_EQ(r.records.size(), 3u);
    int64_t inter = 0, intra = 0, pairs = 0, tokens = 0;
    for (const auto& rec : r.records) {
      for (size_t g = 0; g < 4; ++g) {
        inter += rec.send_inter[g];
        intra += rec.send_intra[g];
        pairs += rec.gpu_pairs[g];
      }
      tokens += rec.tokens;
    }
    EXPECT_EQ(r.total.inter_copies, inter);
    EXPECT_EQ(r.total.intra_copies, intra);
    EXPECT_EQ(r.total.pairs, pairs);
    EXPECT_EQ(r.total.tokens, tokens);
    EXPECT_EQ(r.total.samples, 3);
    // Copies are per token here, so batching does not change them.
    EXPECT_EQ(r.total.inter_copies, whole.total.inter_copies);
    EXPECT_EQ(r.total.intra_copies, whole.total.intra_copies);
  }
}

// Two experts per GPU (expert e on GPU e / 2), top-3, so a token's experts share GPUs and
// remote nodes: a token is sent once per destination GPU (flat) and once per destination node
// (hierarchical), never once per expert. Tokens land on GPUs 0, 1, 2, 3, 0.
EvalResult run_shared(CommScheme comm) {
  Placement p =
      hand_placement(2, 2, {{{{0, 1}}, {{0, 1}}, {{1, 1}}, {{1, 1}}, {{2, 1}}, {{2, 1}}, {{3, 1}}, {{3, 1}}}});
  Trace t;
  t.num_layers = 1;
  t.top_k = 3;
  t.num_experts = 8;
  t.ids = {4, 5, 6, /**/ 2, 3, 0, /**/ 0, 1, 2, /**/ 6, 7, 1, /**/ 1, 3, 5};
  t.seq_offsets = {0, 1, 2, 3, 4, 5};
  EvalOptions o;
  o.router = "primary";
  o.comm = comm;
  return evaluate(t, p, hand_topology(2, 2), generic_model(1, 8, 3, 1000), o);
}

TEST(Evaluate, SharedGpuAndNodeFlat) {
  // t0 on 0 -> GPUs {2, 2, 3}: inter 0->2 once, 0->3.   t1 on 1 -> {1, 1, 0}: intra 1->0.
  // t2 on 2 -> {0, 0, 1}: inter 2->0 once, 2->1.         t3 on 3 -> {3, 3, 0}: inter 3->0.
  // t4 on 0 -> {0, 1, 2}: intra 0->1, inter 0->2.
  EvalResult r = run_shared(CommScheme::kFlat);
  ASSERT_EQ(r.records.size(), 1u);
  const LayerBatchRecord& rec = r.records[0];
  EXPECT_EQ(rec.gpu_pairs, (V{5, 4, 3, 3}));
  EXPECT_EQ(rec.send_inter, (V{3, 0, 2, 1}));
  EXPECT_EQ(rec.recv_inter, (V{2, 1, 2, 1}));
  EXPECT_EQ(rec.send_intra, (V{1, 1, 0, 0}));
  EXPECT_EQ(rec.recv_intra, (V{1, 1, 0, 0}));
  EXPECT_EQ(rec.pairs_same_gpu, 5);
  EXPECT_EQ(rec.pairs_same_node, 2);
  EXPECT_EQ(rec.pairs_remote, 8);
  EXPECT_EQ(r.total.inter_copies, 6);  // not 9: one copy per (token, remote GPU)
  EXPECT_EQ(r.total.intra_copies, 2);
}

TEST(Evaluate, SharedGpuAndNodeHierarchical) {
  // t0 on 0: inter 0->2 (one per node), then 2 forwards to 3.   t1 on 1: intra 1->0.
  // t2 on 2: inter 2->0, then 0 forwards to 1.                  t3 on 3: inter 3->1, then 1->0.
  // t4 on 0: intra 0->1, inter 0->2 (the target itself).
  EvalResult r = run_shared(CommScheme::kHierarchical);
  ASSERT_EQ(r.records.size(), 1u);
  const LayerBatchRecord& rec = r.records[0];
  EXPECT_EQ(rec.gpu_pairs, (V{5, 4, 3, 3}));
  EXPECT_EQ(rec.send_inter, (V{2, 0, 1, 1}));
  EXPECT_EQ(rec.recv_inter, (V{1, 1, 2, 0}));
  EXPECT_EQ(rec.send_intra, (V{2, 2, 1, 0}));  // GPU 0: t2's forward and t4; GPU 1: t1 and t3's forward
  EXPECT_EQ(rec.recv_intra, (V{2, 2, 0, 1}));
  EXPECT_EQ(r.total.inter_copies, 4);
  EXPECT_EQ(r.total.intra_copies, 5);
}

// A random 2 x 4 placement with replicas and a random 3-layer trace.
struct RandomCase {
  Placement p;
  Trace t;
};

RandomCase random_case(uint32_t seed) {
  std::mt19937 rng(seed);
  const int L = 3, E = 16, k = 4, G = 8;
  std::vector<std::vector<std::vector<std::pair<int, double>>>> layers(L);
  for (auto& layer : layers) {
    for (int e = 0; e < E; ++e) {
      std::vector<std::pair<int, double>> inst = {{e % G, 1.0}};
      if (rng() % 3 == 0) {
        int g = int(rng() % G);
        if (g != e % G) inst.push_back({g, 0.5 + (rng() % 100) / 100.0});
      }
      layer.push_back(inst);
    }
  }
  RandomCase c{hand_placement(2, 4, layers), {}};
  c.t.num_layers = L;
  c.t.top_k = k;
  c.t.num_experts = E;
  const int64_t n = 3000;
  for (int64_t tok = 0; tok < n; ++tok)
    for (int l = 0; l < L; ++l) {
      std::vector<int> pick;
      while (int(pick.size()) < k) {
        int e = int(rng() % E);
        if (std::find(pick.begin(), pick.end(), e) == pick.end()) pick.push_back(e);
      }
      for (int e : pick) c.t.ids.push_back(expert_t(e));
    }
  c.t.seq_offsets = {0};
  while (c.t.seq_offsets.back() < n)
    c.t.seq_offsets.push_back(std::min<int64_t>(n, c.t.seq_offsets.back() + 1 + rng() % 200));
  return c;
}

TEST(Evaluate, HierarchicalNeverCrossesMoreThanFlat) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    RandomCase c = random_case(seed);
    for (const auto& router : {"tar", "wrr", "load-aware"}) {
      EvalOptions o;
      o.router = router;
      o.batch_tokens = 512;
      o.comm = CommScheme::kFlat;
      EvalResult flat = evaluate(c.t, c.p, hand_topology(2, 4), generic_model(3, 16, 4), o);
      o.comm = CommScheme::kHierarchical;
      EvalResult hier = evaluate(c.t, c.p, hand_topology(2, 4), generic_model(3, 16, 4), o);
      EXPECT_LE(hier.total.inter_copies, flat.total.inter_copies) << router;
      EXPECT_LT(hier.total.inter_copies, flat.total.inter_copies) << router << ": top-4 of 16 on 2 nodes must share";
      EXPECT_EQ(hier.total.pairs, flat.total.pairs);
      EXPECT_EQ(hier.total.pairs_remote, flat.total.pairs_remote);
      int64_t sent = 0, recv = 0;
      for (const auto& rec : hier.records)
        for (int g = 0; g < 8; ++g) {
          sent += rec.send_inter[size_t(g)] + rec.send_intra[size_t(g)];
          recv += rec.recv_inter[size_t(g)] + rec.recv_intra[size_t(g)];
        }
      EXPECT_EQ(sent, recv);
      // Per layer totals add up to the total.
      int64_t per_layer_inter = 0;
      for (const auto& t : hier.per_layer) per_layer_inter += t.inter_copies;
      EXPECT_EQ(per_layer_inter, hier.total.inter_copies);
      EXPECT_EQ(hier.total.tokens, 3000 * 3);
    }
  }
}

TEST(Evaluate, NoRecordsSameTotals) {
  RandomCase c = random_case(9);
  EvalOptions o;
  o.batch_tokens = 700;
  EvalResult a = evaluate(c.t, c.p, hand_topology(2, 4), generic_model(3, 16, 4), o);
  o.keep_records = false;
  EvalResult b = evaluate(c.t, c.p, hand_topology(2, 4), generic_model(3, 16, 4), o);
  EXPECT_TRUE(b.records.empty());
  EXPECT_EQ(a.records.size(), size_t(5 * 3));
  EXPECT_EQ(a.total.inter_copies, b.total.inter_copies);
  EXPECT_EQ(a.total.intra_copies, b.total.intra_copies);
  EXPECT_DOUBLE_EQ(a.total.load_max_mean_sum, b.total.load_max_mean_sum);
}

TEST(Evaluate, RejectsMismatchedInput) {
  Trace t = hand_case_trace();
  t.num_layers = 1;
  Placement p = hand_case_placement();
  EvalOptions o;
  Trace bad = t;
  bad.ids[3] = 7;  // expert 7 is not placed
  EXPECT_THROW(evaluate(bad, p, hand_topology(2, 2), generic_model(1, 4, 2), o), InputError);
  o.batch_tokens = 0;
  EXPECT_THROW(evaluate(t, p, hand_topology(2, 2), generic_model(1, 4, 2), o), InputError);
  o.batch_tokens = 8;
  EXPECT_THROW(evaluate(t, p, hand_topology(1, 4), generic_model(1, 4, 2), o), InputError);
  o.router = "nope";
  EXPECT_THROW(evaluate(t, p, hand_topology(2, 2), generic_model(1, 4, 2), o), InputError);
  EXPECT_THROW(parse_comm_scheme("ring"), InputError);
  EXPECT_EQ(parse_comm_scheme("flat"), CommScheme::kFlat);
}

// 2 nodes x 1 GPU: expert 0 on GPU 0, experts 1 and 2 on GPU 1; one-token sequences land on
// GPUs 0, 1, 0, 1. t0 {1, 2} and t2 {0, 1} cross 0 -> 1, t3 {0, 2} crosses 1 -> 0, t1 stays.
// Node 0 sends 2 and receives 1, node 1 the reverse: the busiest NIC carries 2 copies in its
// busier direction where the mean node carries 3 / 2.
TEST(Evaluate, BusiestNicIsTheBusierDirectionOfTheBusiestNode) {
  Placement p = hand_placement(2, 1, {{{{0, 1}}, {{1, 1}}, {{1, 1}}}});
  Trace t;
  t.num_layers = 1;
  t.top_k = 2;
  t.num_experts = 3;
  t.ids = {1, 2, /**/ 1, 2, /**/ 0, 1, /**/ 0, 2};
  t.seq_offsets = {0, 1, 2, 3, 4};
  for (CommScheme comm : {CommScheme::kFlat, CommScheme::kHierarchical}) {
    EvalOptions o;
    o.router = "primary";
    o.comm = comm;
    EvalResult r = evaluate(t, p, hand_topology(2, 1), generic_model(1, 3, 2), o);
    ASSERT_EQ(r.records.size(), 1u);
    EXPECT_EQ(r.records[0].send_inter, (V{2, 1}));
    EXPECT_EQ(r.records[0].nic_busiest, 2);
    EXPECT_EQ(r.num_nodes, 2);
    EXPECT_EQ(r.total.nic_busiest_copies, 2);
    EXPECT_DOUBLE_EQ(EvalResult::nic_max_mean(r.total, r.num_nodes), 2 / 1.5);
    EXPECT_NE(eval_json(r).find("\"nic_max_mean\":1.333"), std::string::npos);
    EXPECT_NE(format_eval(r).find("NIC max/mn"), std::string::npos);
    // Batches [t0 t1] and [t2 t3]: 1 copy one way, then one each way: the busiest NIC carries 1
    // in each batch, summed over batches.
    o.batch_tokens = 2;
    EvalResult b = evaluate(t, p, hand_topology(2, 1), generic_model(1, 3, 2), o);
    ASSERT_EQ(b.records.size(), 2u);
    EXPECT_EQ(b.records[0].nic_busiest, 1);
    EXPECT_EQ(b.records[1].nic_busiest, 1);
    EXPECT_EQ(b.total.nic_busiest_copies, 2);
  }
  // One node: nothing crosses, the ratio is 0.
  EvalOptions o;
  o.router = "primary";
  Placement one = hand_placement(1, 2, {{{{0, 1}}, {{1, 1}}, {{1, 1}}}});
  EvalResult r = evaluate(t, one, hand_topology(1, 2), generic_model(1, 3, 2), o);
  EXPECT_EQ(r.total.nic_busiest_copies, 0);
  EXPECT_EQ(EvalResult::nic_max_mean(r.total, r.num_nodes), 0);
}

// 3 nodes x 1 GPU: a NIC is paced by the busier of its two directions. Experts 0..4 on GPUs
// 0, 1, 2, 1, 2; one-token sequences land on GPUs 0, 1, 2, 0, 1.
TEST(Evaluate, BusiestNicCountsSendsAndReceives) {
  Placement p = hand_placement(3, 1, {{{{0, 1}}, {{1, 1}}, {{2, 1}}, {{1, 1}}, {{2, 1}}}});
  auto run = [&](std::vector<expert_t> ids) {
    Trace t;
    t.num_layers = 1;
    t.top_k = 2;
    t.num_experts = 5;
    t.ids = std::move(ids);
    for (int i = 0; i <= int(t.ids.size()) / 2; ++i) t.seq_offsets.push_back(i);
    EvalOptions o;
    o.router = "primary";
    return evaluate(t, p, hand_topology(3, 1), generic_model(1, 5, 2), o);
  };
  // Node 2 receives: every token wants experts 2 and 4 (GPU 2). Sends {2, 2, 0}, receives {0, 0, 4}.
  EvalResult in = run({2, 4, /**/ 2, 4, /**/ 2, 4, /**/ 2, 4, /**/ 2, 4});
  EXPECT_EQ(in.records[0].recv_inter, (V{0, 0, 4}));
  EXPECT_EQ(in.records[0].nic_busiest, 4);
  EXPECT_DOUBLE_EQ(EvalResult::nic_max_mean(in.total, 3), 4 / (4 / 3.0));
  // Node 0 sends: its tokens want GPUs 1 and 2, the others stay home. Sends {4, 0, 0}.
  EvalResult out = run({1, 2, /**/ 1, 3, /**/ 2, 4, /**/ 3, 4});
  EXPECT_EQ(out.records[0].send_inter, (V{4, 0, 0}));
  EXPECT_EQ(out.records[0].recv_inter, (V{0, 2, 2}));
  EXPECT_EQ(out.records[0].nic_busiest, 4);
}

TEST(Evaluate, ReportAndJsonMentionTotals) {
  EvalResult r = run_hand(CommScheme::kFlat);
  std::string text = format_eval(r);
  EXPECT_NE(text.find("total"), std::string::npos);
  EXPECT_NE(text.find("2400.0"), std::string::npos);  // 6 copies x 2000 B / 5 tokens
  std::string j = eval_json(r);
  EXPECT_NE(j.find("\"inter_copies\":6"), std::string::npos);
  EXPECT_NE(j.find("\"router\":\"primary\""), std::string::npos);
}

}  // namespace
}  // namespace grace
