// The single-process reference for the engine (run_reference in grace/engine/engine.h): every
// expert local, no communication, same hidden states / gate weights / expert weights. Replicas
// share their primary's weights, so which instance serves a pair does not change the numbers;
// only summation order differs from the engine.
#include <cstring>
#include <map>

#include "engine/layer_compute.h"
#include "engine/rng.h"
#include "grace/engine/compute.h"
#include "grace/engine/engine.h"
#include "grace/engine/gate.h"
#include "grace/engine/weights.h"

namespace grace::engine {
namespace {

float round_bf16(float f) {  // round to nearest even, as the GPU's float -> bf16 conversion
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

std::vector<float> run_reference(const EngineInputs& in, const EngineOptions& opt, const std::vector<int64_t>& tokens) {
  const Trace& tr = *in.trace;
  const int L = opt.num_layers > 0 ? opt.num_layers : in.placement->num_layers;
  const int64_t H = in.model.hidden, I = in.model.moe_intermediate;
  const int k = tr.top_k;
  const int64_t n = int64_t(tokens.size());
  auto compute = make_cpu_compute();
  compute->configure(H, I);
  std::vector<float> x(size_t(n * H));
  for (int64_t i = 0; i < n; ++i) init_hidden(opt.seed, tokens[size_t(i)], H, &x[size_t(i * H)]);
  ExpertWeights w;
  std::vector<float> wg, logits, gw, xg;
  std::vector<int32_t> gids;
  for (int l = 0; l < L; ++l) {
    // Group (token, slot) pairs by expert; load only the experts used.
    std::map<int, std::vector<std::pair<int64_t, float>>> by_expert;
    if (opt.gate_routing) {  // the router on the reference's own hidden states
      const int E = in.placement->num_experts;
      in.weights->load_gate(l, E, wg);
      logits.resize(size_t(n * E));
      gids.resize(size_t(n * k));
      gw.resize(size_t(n * k));
      if (opt.bf16_activations) {  // what a BF16 backend feeds its gate
        xg.resize(x.size());
        for (size_t i = 0; i < x.size(); ++i) xg[i] = round_bf16(x[i]);
      }
      gate_logits(opt.bf16_activations ? xg.data() : x.data(), n, H, wg.data(), E, logits.data());
      gate_topk(logits.data(), n, GateSpec::of(in.model), gids.data(), gw.data());
      for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < k; ++j) by_expert[gids[size_t(i * k + j)]].push_back({i, gw[size_t(i * k + j)]});
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const int64_t t = tokens[size_t(i)] - tr.first_token;
        const expert_t* ids = tr.topk(t, l);
        for (int j = 0; j < k; ++j) by_expert[ids[j]].push_back({i, gate_weight(tr, t, l, j)});
      }
    }
    std::vector<float> acc(size_t(n * H), 0.0f), xin, yout;
    for (auto& [e, pairs] : by_expert) {
      if (!compute->has_expert(l, e)) {
        in.weights->load(l, e, w);
        compute->load_expert(l, e, {w.gate.data(), w.up.data(), w.down.data()});
      }
      const int64_t m = int64_t(pairs.size());
      xin.resize(size_t(m * H));
      yout.resize(size_t(m * H));
      for (int64_t p = 0; p < m; ++p) std::copy_n(&x[size_t(pairs[size_t(p)].first * H)], H, &xin[size_t(p * H)]);
      ExpertTask task{e, m, xin.data(), yout.data()};
      compute->run(l, &task, 1);
      for (int64_t p = 0; p < m; ++p) {
        float* dst = &acc[size_t(pairs[size_t(p)].first * H)];
        for (int64_t h = 0; h < H; ++h) dst[h] += pairs[size_t(p)].second * yout[size_t(p * H + h)];
      }
    }
    for (size_t i = 0; i < x.size(); ++i) x[i] += acc[i];
  }
  return x;
}

}  // namespace grace::engine
