// Expert compute time of one GPU (see grace/simulate.h), for both Topology::compute_model values.
//
// grouped     t = max(active instances x expert_bytes / hbm_GBps, tokens x FLOPs/token /
//             grouped_tflops): one grouped GEMM streams every active instance's weights once
//             and is otherwise FLOP-bound. Monotone: more tokens only add FLOPs, and a newly
//             active instance only adds bytes.
// per-expert  f(n) = n x FLOPs/token / tflops_at(n) per active instance. Between calibration
//             points tflops_at is linear in log2(n), so on each segment f is quasi-convex (it
//             falls while tflops_at(n) < slope / ln 2 and rises after); below the first point it
//             is constant, above the last it rises. Hence the monotone envelope g(n) = min over
//             m >= n of f(m) is the minimum of f at n, at the calibration points >= n and at the
//             segments' stationary points >= n.
#include <algorithm>
#include <cmath>
#include <cstdint>
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

double grouped_compute_us(int64_t active_instances, double tokens, const Topology& topo, const ModelSpec& model) {
  if (active_instances <= 0 || tokens <= 0) return 0;
  double weights_us = 0;
  if (topo.hbm_GBps > 0) weights_us = double(active_instances) * double(model.expert_bytes()) / (topo.hbm_GBps * 1e3);
  const double tflops = topo.grouped_tflops > 0 ? topo.grouped_tflops : topo.peak_tflops;
  const double flops_us = tokens * model.expert_flops_per_token() / (tflops * 1e6);
  return std::max(weights_us, flops_us);
}

double gpu_compute_us(const std::vector<int32_t>& instance_tokens, int chunks, const Topology& topo,
                      const ModelSpec& model) {
  const double c = chunks > 1 ? double(chunks) : 1.0;
  int64_t active = 0;
  double tokens = 0, per_expert = 0;
  for (int32_t n : instance_tokens) {
    if (n <= 0) continue;
    ++active;
    tokens += double(n) / c;
    if (topo.compute_model == ComputeModel::kPerExpert) per_expert += expert_compute_us(double(n) / c, topo, model);
  }
  if (active == 0) return 0;
  const double t =
      topo.compute_model == ComputeModel::kPerExpert ? per_expert : grouped_compute_us(active, tokens, topo, model);
  return t + topo.kernel_overhead_us;
}

}  // namespace grace
