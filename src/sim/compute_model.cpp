// Expert compute time from the topology's calibrated throughput curve (see simulate.h).
//
// f(n) = n x FLOPs/token / tflops_at(n). Between calibration points tflops_at is linear in
// log2(n), so on each segment f is quasi-convex (it falls while tflops_at(n) < slope / ln 2 and
// rises after); below the first point it is constant, above the last it rises. Hence the
// monotone envelope g(n) = min over m >= n of f(m) is the minimum of f at n, at the calibration
// points >= n and at the segments' stationary points >= n.
#include <cmath>
#include <vector>

#include "grace/model.h"
#include "grace/simulate.h"
#include "grace/topology.h"

namespace grace {
namespace {

double raw_us(double tokens, const Topology& topo, double flops_per_token) {
  double tflops = topo.tflops_at(tokens);
  return tokens * flops_per_token / (tflops * 1e6);  // FLOPs / (TFLOP/s x 1e12) x 1e6 us
}

}  // namespace

double expert_compute_us(double tokens, const Topology& topo, const ModelSpec& model) {
  if (tokens <= 0) return 0;
  const double flops = model.expert_flops_per_token();
  double best = raw_us(tokens, topo, flops);
  const auto& pts = topo.compute;
  for (size_t i = 0; i < pts.size(); ++i) {
    if (pts[i].tokens >= tokens) best = std::min(best, raw_us(pts[i].tokens, topo, flops));
    if (i + 1 == pts.size()) break;
    // Stationary point of segment [i, i+1]: tflops(s) = beta / ln 2, beta per log2 unit.
    double x0 = std::log2(pts[i].tokens), x1 = std::log2(pts[i + 1].tokens);
    double beta = (pts[i + 1].tflops - pts[i].tflops) / (x1 - x0);
    if (beta <= 0) continue;
    double t_star = beta / std::log(2.0);
    if (t_star <= pts[i].tflops || t_star >= pts[i + 1].tflops) continue;
    double s = std::exp2(x0 + (t_star - pts[i].tflops) / beta);
    if (s >= tokens) best = std::min(best, raw_us(s, topo, flops));
  }
  return best;
}

}  // namespace grace
