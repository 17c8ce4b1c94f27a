// Synthetic routing traces (grace/synth.h).
//
// Model, per layer l (E experts, top-k):
//   popularity  logit_l[e] = sigma_g * g_l[e] + sigma_h * h_{z,l}[e] + sigma_s * n_{s,l}[e] with
//               g, h, n standard normal: a global part, a part of the sequence's topic z, and a
//               small per-sequence part. A token's "fresh" draw is from softmax(logit).
//   clusters    experts are split (random permutation) into co-activation clusters of ~E/10+1;
//               with probability p_cluster a slot takes a member of the cluster of an expert the
//               token already chose at this layer.
//   successors  every expert e at l has kSucc favoured successors at l+1; with probability
//               p_succ a slot takes a successor of one of the token's experts at l-1.
//   locality    with probability p_reuse a slot re-uses an expert of the previous token of the
//               sequence at this layer.
// Slots are filled in order (slot 0 first) and distinct; a duplicate candidate is redrawn.
// Gate weights: descending, normalised to sum 1.
#include "grace/synth.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "grace/error.h"
#include "trace/rng.h"

namespace grace {
namespace {

constexpr int kSucc = 2;

struct Params {
  double sigma_g, sigma_h, sigma_s;
  double p_cluster, p_succ, p_reuse;
};

// Calibrated against ../shared/data (see docs/traces.md); the knobs of SynthOptions scale them.
Params base_params(const ModelSpec& m, const SynthOptions& o) {
  Params p{0.55, 0.9, 0.3, 0.12, 0.12, 0.25};
  p.sigma_g *= o.skew;
  p.sigma_h *= o.skew;
  p.sigma_s *= o.skew;
  p.p_cluster *= o.affinity;
  p.p_succ *= o.layer_correlation;
  p.p_reuse *= o.token_locality;
  double sum = p.p_cluster + p.p_succ + p.p_reuse;
  if (sum > 0.9) {
    p.p_cluster *= 0.9 / sum;
    p.p_succ *= 0.9 / sum;
    p.p_reuse *= 0.9 / sum;
  }
  return p;
}

// Draws an index from a cumulative table (cdf.back() is the total).
int draw(const float* cdf, int n, Rng& rng) {
  float u = float(rng.uniform()) * cdf[n - 1];
  int i = int(std::upper_bound(cdf, cdf + n, u) - cdf);
  return std::min(i, n - 1);
}

}  // namespace

Trace synthesize_trace(const ModelSpec& model, const SynthOptions& opt) {
  model.validate();
  GRACE_INPUT_CHECK(opt.tokens >= 0, "synthetic trace: tokens must be >= 0, not {}", opt.tokens);
  GRACE_INPUT_CHECK(opt.mean_seq_len >= 1, "synthetic trace: mean sequence length must be >= 1");
  GRACE_INPUT_CHECK(opt.num_topics >= 1, "synthetic trace: num_topics must be >= 1");
  const int L = model.moe_layers, E = model.experts, k = model.top_k;
  const Params par = base_params(model, opt);
  Rng rng(opt.seed * 0x9e3779b97f4a7c15ull + 0x5eed);

  // Static structure: global and topic logits, clusters, successors.
  std::vector<float> glob(size_t(L) * E), topic(size_t(opt.num_topics) * L * E);
  for (auto& v : glob) v = float(par.sigma_g * rng.normal());
  for (auto& v : topic) v = float(par.sigma_h * rng.normal());
  const int cluster_size = std::max(2, E / 10 + 1);
  std::vector<int> members(size_t(L) * E), cluster_of(size_t(L) * E);  // members grouped by cluster
  for (int l = 0; l < L; ++l) {
    int* mem = members.data() + size_t(l) * E;
    for (int e = 0; e < E; ++e) mem[e] = e;
    for (int e = E - 1; e > 0; --e) std::swap(mem[e], mem[rng.below(uint32_t(e + 1))]);
    for (int i = 0; i < E; ++i) cluster_of[size_t(l) * E + mem[i]] = i / cluster_size;
  }
  std::vector<expert_t> succ(size_t(L) * E * kSucc);
  for (auto& v : succ) v = expert_t(rng.below(uint32_t(E)));

  Trace tr;
  tr.num_layers = L;
  tr.top_k = k;
  tr.num_experts = E;
  tr.ids.resize(size_t(opt.tokens) * L * k);
  if (opt.with_weights) tr.weights.resize(tr.ids.size());
  tr.seq_offsets.push_back(0);

  std::vector<float> cdf(size_t(L) * E);
  std::vector<float> weight_tmp(k);
  int64_t t = 0;
  while (t < opt.tokens) {
    // A new sequence: length, topic, its popularity tables.
    int64_t len = std::max<int64_t>(1, int64_t(double(opt.mean_seq_len) * (0.25 + 1.5 * rng.uniform())));
    len = std::min(len, opt.tokens - t);
    const int z = int(rng.below(uint32_t(opt.num_topics)));
    for (int l = 0; l < L; ++l) {
      float acc = 0;
      for (int e = 0; e < E; ++e) {
        size_t i = size_t(l) * E + e;
        float logit = glob[i] + topic[(size_t(z) * L + l) * E + e] + float(par.sigma_s * rng.normal());
        acc += std::exp(logit);
        cdf[i] = acc;
      }
    }
    for (int64_t s = 0; s < len; ++s, ++t) {
      for (int l = 0; l < L; ++l) {
        expert_t* out = tr.ids.data() + (size_t(t) * L + l) * k;
        const expert_t* prev = s > 0 ? out - size_t(L) * k : nullptr;
        const expert_t* below = l > 0 ? out - k : nullptr;
        const float* c = cdf.data() + size_t(l) * E;
        for (int j = 0; j < k; ++j) {
          int cand = -1;
          for (int attempt = 0; attempt < 16; ++attempt) {
            double u = rng.uniform();
            if (prev && u < par.p_reuse) {
              cand = prev[rng.below(uint32_t(k))];
            } else if (below && (u -= par.p_reuse) < par.p_succ) {
              cand = succ[(size_t(l - 1) * E + below[rng.below(uint32_t(k))]) * kSucc + rng.below(kSucc)];
            } else if (j > 0 && (u -= par.p_succ) < par.p_cluster) {
              int anchor = out[rng.below(uint32_t(j))];
              int start = cluster_of[size_t(l) * E + anchor] * cluster_size;
              int size = std::min(cluster_size, E - start);
              cand = members[size_t(l) * E + start + int(rng.below(uint32_t(size)))];
            } else {
              cand = draw(c, E, rng);
            }
            if (std::find(out, out + j, expert_t(cand)) == out + j) break;
            cand = -1;
          }
          if (cand < 0) {  // extremely rare: take the first free expert from a random start
            int e = int(rng.below(uint32_t(E)));
            while (std::find(out, out + j, expert_t(e)) != out + j) e = (e + 1) % E;
            cand = e;
          }
          out[j] = expert_t(cand);
        }
        if (opt.with_weights) {
          float sum = 0;
          for (int j = 0; j < k; ++j) sum += weight_tmp[j] = float(std::exp(-0.45 * j) * (0.7 + 0.6 * rng.uniform()));
          std::sort(weight_tmp.begin(), weight_tmp.end(), std::greater<float>());
          float* w = tr.weights.data() + (size_t(t) * L + l) * k;
          for (int j = 0; j < k; ++j) w[j] = weight_tmp[j] / sum;
        }
      }
    }
    tr.seq_offsets.push_back(t);
  }
  return tr;
}

Trace uniform_trace(int layers, int experts, int top_k, int64_t tokens, uint64_t seed, int64_t seq_len) {
  GRACE_INPUT_CHECK(layers >= 1 && experts >= 1 && top_k >= 1 && top_k <= experts && tokens >= 0 && seq_len >= 1,
                    "uniform trace: bad shape ({} layers, {} experts, top-{}, {} tokens, sequence length {})",
                    layers, experts, top_k, tokens, seq_len);
  Rng rng(seed * 0xd1b54a32d192ed03ull + 0x0f1);
  Trace tr;
  tr.num_layers = layers;
  tr.top_k = top_k;
  tr.num_experts = experts;
  tr.ids.resize(size_t(tokens) * layers * top_k);
  for (int64_t t = 0; t < tokens; ++t)
    for (int l = 0; l < layers; ++l) {
      expert_t* out = tr.ids.data() + (size_t(t) * layers + l) * top_k;
      for (int j = 0; j < top_k; ++j) {
        expert_t e;
        do e = expert_t(rng.below(uint32_t(experts)));
        while (std::find(out, out + j, e) != out + j);
        out[j] = e;
      }
    }
  for (int64_t o = 0; o < tokens; o += seq_len) tr.seq_offsets.push_back(o);
  tr.seq_offsets.push_back(tokens);
  return tr;
}

}  // namespace grace
