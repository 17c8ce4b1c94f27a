// The engine (and its single-process reference) against a tiny MoE computed here, sharing no
// arithmetic with src/engine: hidden 2, intermediate 1, 3 experts, top-2, 2 layers, expert
// weights and gate weights written as constants below, the layer math spelled out in double:
//     x_{l+1} = x_l + sum_j g_j * W_d[e_j] * ( silu(W_g[e_j] . x_l) * (W_u[e_j] . x_l) ).
// The initial hidden state is the engine's own (a pseudo-random function of seed and token):
// it is read from a run with all expert weights zero, where the output is the input.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/loopback_comm.h"
#include "grace/engine/compute.h"
#include "grace/engine/engine.h"
#include "grace/engine/weights.h"
#include "grace/router.h"
#include "grace/topology.h"

namespace grace::engine {
namespace {

constexpr int kLayers = 2, kExperts = 3, kTopK = 2, kTokens = 4;
constexpr int64_t kH = 2, kI = 1;

// [layer][expert]: gate and up rows (1 x 2), down column (2 x 1).
constexpr double kGate[kLayers][kExperts][2] = {{{1.0, 0.0}, {0.5, -1.0}, {-2.0, 0.25}},
                                                {{0.0, 1.5}, {1.0, 1.0}, {-0.5, 0.75}}};
constexpr double kUp[kLayers][kExperts][2] = {{{0.0, 1.0}, {2.0, 0.5}, {1.0, 1.0}},
                                              {{1.0, -1.0}, {0.25, 0.5}, {-1.0, 2.0}}};
constexpr double kDown[kLayers][kExperts][2] = {{{1.0, -1.0}, {0.5, 2.0}, {-1.5, 0.25}},
                                                {{2.0, 1.0}, {-1.0, 0.5}, {0.75, -0.5}}};

// Token t's experts and gate weights per layer.
constexpr int kIds[kTokens][kLayers][kTopK] = {{{0, 1}, {2, 0}}, {{1, 2}, {0, 1}}, {{2, 0}, {1, 2}}, {{0, 2}, {2, 1}}};
constexpr float kW[kTokens][kLayers][kTopK] = {{{0.75f, 0.25f}, {0.625f, 0.375f}},
                                               {{0.5f, 0.5f}, {0.875f, 0.125f}},
                                               {{0.25f, 0.75f}, {0.5f, 0.5f}},
                                               {{1.0f, 0.0625f}, {0.125f, 0.5f}}};

class HandWeights final : public WeightSource {
 public:
  explicit HandWeights(bool zero) : zero_(zero) {}
  std::string describe() const override { return zero_ ? "hand-zero" : "hand"; }
  void load(int l, int e, ExpertWeights& w) override {
    const double s = zero_ ? 0.0 : 1.0;
    w.gate = {float(s * kGate[l][e][0]), float(s * kGate[l][e][1])};
    w.up = {float(s * kUp[l][e][0]), float(s * kUp[l][e][1])};
    w.down = {float(s * kDown[l][e][0]), float(s * kDown[l][e][1])};
  }
  // The gate is not used: these tests route from the trace.
  void load_gate(int, int experts, std::vector<float>& g) override { g.assign(size_t(experts) * kH, 0.0f); }
  void check(int, int) override {}

 private:
  bool zero_;
};

Trace hand_trace(bool with_weights) {
  Trace tr;
  tr.num_layers = kLayers;
  tr.top_k = kTopK;
  tr.num_experts = kExperts;
  for (int t = 0; t < kTokens; ++t)
    for (int l = 0; l < kLayers; ++l)
      for (int j = 0; j < kTopK; ++j) {
        tr.ids.push_back(expert_t(kIds[t][l][j]));
        if (with_weights) tr.weights.push_back(kW[t][l][j]);
      }
  tr.seq_offsets = {0, 1, 3, 4};
  return tr;
}

// The loopback world has one rank: every expert on GPU 0 of a 1x1 topology.
Placement hand_placement() {
  Placement p;
  p.model = "hand";
  p.policy = "hand";
  p.num_layers = kLayers;
  p.num_experts = kExperts;
  p.nodes = 1;
  p.gpus_per_node = 1;
  p.slots_per_gpu = kExperts;
  p.layers.resize(kLayers);
  for (auto& l : p.layers) {
    l.experts.resize(kExperts);
    for (auto& e : l.experts) e.instances = {{0, 1.0}};
  }
  return p;
}

struct Outputs {
  std::vector<int64_t> tokens;
  std::vector<float> out;  // [kTokens][kH], in token order
  std::vector<float> ref;  // run_reference on the same tokens
};

Outputs run(const Trace& tr, bool zero_weights, CommScheme comm, uint64_t seed, int64_t batch_tokens) {
  ModelSpec m = generic_model(kLayers, kExperts, kTopK, kH, kI);
  m.name = "hand";
  Topology topo = parse_topology("1x1");
  Placement pl = hand_placement();
  auto router = make_router("tar", pl, topo, 0);
  HandWeights w(zero_weights);
  EngineInputs in{&tr, &pl, &topo, m, router.get(), &w};
  EngineOptions opt;
  opt.comm = comm;
  opt.batch_tokens = batch_tokens;
  opt.seed = seed;
  opt.keep_outputs = true;
  testing::LoopbackComm world;
  auto compute = make_cpu_compute();
  EngineResult r = run_engine(world, *compute, in, opt);
  Outputs out;
  out.out.assign(size_t(kTokens * kH), NAN);
  for (size_t i = 0; i < r.out_tokens.size(); ++i)
    for (int64_t h = 0; h < kH; ++h) out.out[size_t(r.out_tokens[i] * kH + h)] = r.out_hidden[i * kH + size_t(h)];
  for (int t = 0; t < kTokens; ++t) out.tokens.push_back(t);
  out.ref = run_reference(in, opt, out.tokens);
  return out;
}

// The layer math above, in double, from the initial state x0 [kTokens][kH].
std::vector<double> expected(const std::vector<float>& x0, bool with_weights) {
  std::vector<double> x(x0.begin(), x0.end());
  for (int l = 0; l < kLayers; ++l) {
    std::vector<double> next = x;
    for (int t = 0; t < kTokens; ++t) {
      const double a = x[size_t(t * kH)], b = x[size_t(t * kH + 1)];
      for (int j = 0; j < kTopK; ++j) {
        const int e = kIds[t][l][j];
        const double g = with_weights ? double(kW[t][l][j]) : 1.0 / kTopK;
        const double zg = kGate[l][e][0] * a + kGate[l][e][1] * b;
        const double zu = kUp[l][e][0] * a + kUp[l][e][1] * b;
        const double act = zg / (1.0 + std::exp(-zg)) * zu;
        next[size_t(t * kH)] += g * kDown[l][e][0] * act;
        next[size_t(t * kH + 1)] += g * kDown[l][e][1] * act;
      }
    }
    x = next;
  }
  return x;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(double(got[i]), want[i], 1e-5 * (1.0 + std::fabs(want[i]))) << what << " value " << i;
}

TEST(HandLayer, InitialStateIsAPseudoRandomFunctionOfSeedAndToken) {
  const Trace tr = hand_trace(true);
  const Outputs a = run(tr, true, CommScheme::kFlat, 11, 4);
  // Zero expert weights: the output is the input (residual only), for both schemes.
  EXPECT_EQ(a.out, run(tr, true, CommScheme::kHierarchical, 11, 2).out);
  EXPECT_EQ(a.out, a.ref);
  std::set<float> distinct;
  for (float v : a.out) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 1.0f);
    distinct.insert(v);
  }
  EXPECT_EQ(distinct.size(), a.out.size()) << "every token and dimension gets its own value";
  // Another seed gives other values; the batching does not change them (per token, not per batch).
  const Outputs b = run(tr, true, CommScheme::kFlat, 12, 1);
  for (size_t i = 0; i < a.out.size(); ++i) EXPECT_NE(a.out[i], b.out[i]) << i;
}

TEST(HandLayer, EngineAndReferenceEqualTheHandComputedLayers) {
  for (bool with_weights : {true, false}) {
    SCOPED_TRACE(with_weights ? "gate weights from the trace" : "no gate weights: 1/k");
    const Trace tr = hand_trace(with_weights);
    const std::vector<float> x0 = run(tr, true, CommScheme::kFlat, 5, 4).out;
    const std::vector<double> want = expected(x0, with_weights);
    // The FFNs move the state well away from x0 (else the check below would be weak).
    double moved = 0;
    for (size_t i = 0; i < want.size(); ++i) moved = std::max(moved, std::fabs(want[i] - x0[i]));
    EXPECT_GT(moved, 0.05);
    for (CommScheme comm : {CommScheme::kFlat, CommScheme::kHierarchical})
      for (int64_t batch : {1, 3, 4}) {
        SCOPED_TRACE(std::string(comm == CommScheme::kFlat ? "flat" : "hierarchical") + " batch " +
                     std::to_string(batch));
        const Outputs r = run(tr, false, comm, 5, batch);
        expect_close(r.out, want, "engine");
        expect_close(r.ref, want, "reference");
      }
  }
}

}  // namespace
}  // namespace grace::engine
