// Synthetic routing traces (grace/synth.h).
//
// Model, per layer l (E experts, top-k):
//   popularity  logit_l[e] = sigma_g * g_l[e] + sigma_h * h_{z,l}[e] + sigma_s * n_{s,l}[e] with
//               g, h, n standard normal: a global part, a part of the sequence's topic z, and a
//               small per-sequence part. A token's "fresh" draw is from softmax(logit). A new
//               sequence keeps the previous one's topic with probability topic_stay (traces
//               are grouped by task), so windows of a few sequences share a skew.
//   clusters    experts are split into co-activation clusters of ~E/5+1 of similar popularity;
//               with probability p_cluster a slot takes a member of the cluster of an expert the
//               token already chose at this layer.
//   successors  every expert e at l has one favoured successor at l+1, of about the same
//               global popularity rank; with probability p_succ a slot takes the successor of
//               one of the token's experts at l-1.
//   locality    with probability p_reuse a slot re-uses an expert of the previous token of the
//               sequence at this layer.
// Slots are filled in order (slot 0 first) and distinct; a duplicate candidate is redrawn.
// Gate weights: descending, normalised to sum 1.
#include "grace/synth.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/cost_limits.h"
#include "grace/error.h"
#include "trace/rng.h"

namespace grace {
namespace {

struct Params {
  double sigma_g, sigma_h, sigma_s;
  double p_cluster, p_succ, p_reuse;
  double topic_stay;  // probability that a sequence keeps the previous sequence's topic
};

// Calibrated against ../shared/data: every statistic of grace/trace_stats.h must lie inside the
// range of the real traces (tests/trace/synth_test.cpp), as close as possible to the model's own
// trace. Random search over these seven values (cluster size E/5+1), then hand-tuning over
// seeds 2024, 7, 11; see docs/traces.md. Models without their own calibration get values between.
Params base_params(const ModelSpec& m, const SynthOptions& o) {
  Params p{1.45, 1.5, 0.13, 0.47, 0.26, 0.15, 0.7};                              // generic
  if (m.name == "deepseek-v2-lite") p = {1.15, 1.8, 0.1, 0.5, 0.26, 0.13, 0.7};  // prefill
  if (m.name == "gpt-oss-20b") p = {1.8, 1.16, 0.16, 0.45, 0.25, 0.18, 0.71};    // decode
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

// Draws an index in [begin, end) with probability proportional to cdf[i] - cdf[i - 1].
int draw_range(const float* cdf, int begin, int end, Rng& rng) {
  float lo = begin > 0 ? cdf[begin - 1] : 0.0f;
  float u = lo + float(rng.uniform()) * (cdf[end - 1] - lo);
  int i = int(std::upper_bound(cdf + begin, cdf + end, u) - cdf);
  return std::min(i, end - 1);
}

}  // namespace

Trace synthesize_trace(const ModelSpec& model, const SynthOptions& opt) {
  model.validate();
  GRACE_INPUT_CHECK(opt.tokens >= 0, "synthetic trace: tokens must be >= 0, not {}", opt.tokens);
  GRACE_INPUT_CHECK(opt.mean_seq_len >= 1, "synthetic trace: mean sequence length must be >= 1");
  GRACE_INPUT_CHECK(opt.num_topics >= 1, "synthetic trace: num_topics must be >= 1");
  const int L = model.moe_layers, E = model.experts, k = model.top_k;
  // The trace is built in memory (ids 2 bytes, weights 4, and write_trace's 1-byte copy of the
  // ids), and so are the topics' logits.
  check_memory("synthetic trace", {{"tokens", opt.tokens}, {"layers", L}, {"top-k", k}}, opt.with_weights ? 7 : 3);
  check_memory("synthetic trace", {{"topics", opt.num_topics}, {"layers", L}, {"experts", E}}, 4);
  const Params par = base_params(model, opt);
  Rng rng(opt.seed * 0x9e3779b97f4a7c15ull + 0x5eed);
  Rng wrng(opt.seed * 0xc2b2ae3d27d4eb4full + 0x3e1);  // weights: own stream, ids do not depend on them

  // Static structure: global and topic logits, clusters, successors.
  std::vector<float> glob(size_t(L) * E), topic(size_t(opt.num_topics) * L * E);
  for (auto& v : glob) v = float(par.sigma_g * rng.normal());
  for (auto& v : topic) v = float(par.sigma_h * rng.normal());
  auto jittered_order = [&](int l) {  // experts by global popularity, ranks jittered
    std::vector<std::pair<float, int>> key(E);
    for (int e = 0; e < E; ++e) key[e] = {glob[size_t(l) * E + e] + float(0.5 * par.sigma_g * rng.normal()), e};
    std::sort(key.begin(), key.end());
    return key;
  };
  // Clusters: runs of cluster_size experts of similar popularity (so drawing uniformly inside
  // a cluster does not flatten the skew); `members` lists the experts cluster by cluster.
  const int cluster_size = std::max(2, E / 5 + 1);
  std::vector<int> members(size_t(L) * E), cluster_of(size_t(L) * E);
  for (int l = 0; l < L; ++l) {
    auto order = jittered_order(l);
    for (int i = 0; i < E; ++i) {
      members[size_t(l) * E + i] = order[i].second;
      cluster_of[size_t(l) * E + order[i].second] = i / cluster_size;
    }
  }
  // Successors: expert e at l maps to the expert of about the same global popularity rank at
  // l+1 (ranks jittered), so following successors keeps each layer's skew.
  std::vector<expert_t> succ(size_t(L) * E);
  for (int l = 0; l + 1 < L; ++l) {
    auto from = jittered_order(l), to = jittered_order(l + 1);
    for (int r = 0; r < E; ++r) succ[size_t(l) * E + from[r].second] = expert_t(to[r].second);
  }
  Trace tr;
  tr.num_layers = L;
  tr.top_k = k;
  tr.num_experts = E;
  tr.ids.resize(size_t(opt.tokens) * L * k);
  if (opt.with_weights) tr.weights.resize(tr.ids.size());
  tr.seq_offsets.push_back(0);

  std::vector<float> cdf(size_t(L) * E);
  std::vector<float> weight_tmp(k), weight_base(k);
  for (int j = 0; j < k; ++j) weight_base[j] = float(std::exp(-0.45 * j));
  int64_t t = 0;
  int z = 0;
  while (t < opt.tokens) {
    // A new sequence: length, topic, its popularity tables.
    int64_t len = std::max<int64_t>(1, int64_t(double(opt.mean_seq_len) * (0.25 + 1.5 * rng.uniform())));
    len = std::min(len, opt.tokens - t);
    if (t == 0 || rng.uniform() >= par.topic_stay) z = int(rng.below(uint32_t(opt.num_topics)));
    for (int l = 0; l < L; ++l) {
      float acc = 0;
      for (int i = 0; i < E; ++i) {  // in cluster order, so a cluster is a contiguous range
        int e = members[size_t(l) * E + i];
        float logit = glob[size_t(l) * E + e] + topic[(size_t(z) * L + l) * E + e] + float(par.sigma_s * rng.normal());
        acc += std::exp(logit);
        cdf[size_t(l) * E + i] = acc;
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
            const double u_succ = u - par.p_reuse, u_cluster = u_succ - par.p_succ;
            if (prev && u < par.p_reuse) {
              cand = prev[rng.below(uint32_t(k))];
            } else if (below && u_succ >= 0 && u_succ < par.p_succ) {
              cand = succ[size_t(l - 1) * E + below[rng.below(uint32_t(k))]];
            } else if (j > 0 && u_cluster >= 0 && u_cluster < par.p_cluster) {
              int anchor = out[rng.below(uint32_t(j))];
              int start = cluster_of[size_t(l) * E + anchor] * cluster_size;
              int size = std::min(cluster_size, E - start);
              cand = members[size_t(l) * E + start + int(rng.below(uint32_t(size)))];
            } else {
              cand = members[size_t(l) * E + draw_range(c, 0, E, rng)];
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
          for (int j = 0; j < k; ++j) sum += weight_tmp[j] = weight_base[j] * float(0.7 + 0.6 * wrng.uniform());
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
                    "uniform trace: bad shape ({} layers, {} experts, top-{}, {} tokens, sequence length {})", layers,
                    experts, top_k, tokens, seq_len);
  Rng rng(seed * 0xd1b54a32d192ed03ull + 0x0f1);
  Trace tr;
  tr.num_layers = layers;
  tr.top_k = top_k;
  tr.num_experts = experts;
  check_memory("uniform trace", {{"tokens", tokens}, {"layers", layers}, {"top-k", top_k}}, 2);
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
