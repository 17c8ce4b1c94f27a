// The engine's MoE router: gate GEMM, softmax, group-limited top-k (grace/engine/gate.h).
#include "grace/engine/gate.h"

#include <cblas.h>

#include <cmath>
#include <vector>

#include "grace/error.h"

namespace grace::engine {

void gate_logits(const float* x, int64_t n, int64_t hidden, const float* wg, int experts, float* logits) {
  if (n == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), experts, int(hidden), 1.0f, x, int(hidden), wg,
              int(hidden), 0.0f, logits, experts);
}

void gate_topk(const float* logits, int64_t n, const GateSpec& g, int32_t* ids, float* weights) {
  const int E = g.experts, k = g.top_k, G = g.n_group, per = E / G;
  GRACE_CHECK(G >= 1 && E % G == 0 && g.topk_group >= 1 && g.topk_group <= G && k <= g.topk_group * per,
              "gate: {} experts, {} groups, {} groups kept, top-{}", E, G, g.topk_group, k);
  std::vector<char> group_ok(static_cast<size_t>(G)), taken(static_cast<size_t>(E));
  std::vector<float> gscore(static_cast<size_t>(G));
  for (int64_t t = 0; t < n; ++t) {
    const float* z = logits + t * E;
    float mx = z[0];
    for (int e = 1; e < E; ++e) mx = std::max(mx, z[e]);
    double sum = 0;
    for (int e = 0; e < E; ++e) sum += std::exp(double(z[e]) - mx);
    // Groups: keep the topk_group best by their best logit.
    std::fill(group_ok.begin(), group_ok.end(), char(G == 1));
    if (G > 1) {
      for (int q = 0; q < G; ++q) {
        float b = z[q * per];
        for (int e = 1; e < per; ++e) b = std::max(b, z[q * per + e]);
        gscore[size_t(q)] = b;
      }
      for (int r = 0; r < g.topk_group; ++r) {
        int best = -1;
        for (int q = 0; q < G; ++q)
          if (!group_ok[size_t(q)] && (best < 0 || gscore[size_t(q)] > gscore[size_t(best)])) best = q;
        group_ok[size_t(best)] = 1;
      }
    }
    std::fill(taken.begin(), taken.end(), char(0));
    double wsum = 0;
    for (int j = 0; j < k; ++j) {
      int best = -1;
      for (int e = 0; e < E; ++e)
        if (!taken[size_t(e)] && group_ok[size_t(e / per)] && (best < 0 || z[e] > z[best])) best = e;
      taken[size_t(best)] = 1;
      ids[t * k + j] = best;
      const double p = std::exp(double(z[best]) - mx) / sum;
      weights[t * k + j] = float(p);
      wsum += p;
    }
    if (g.norm_topk_prob && wsum > 0)
      for (int j = 0; j < k; ++j) weights[t * k + j] = float(double(weights[t * k + j]) / wsum);
  }
}

}  // namespace grace::engine
