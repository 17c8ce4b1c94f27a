#include "plan/tar_model.h"

#include <algorithm>

#include "grace/error.h"
#include "plan/plan_util.h"

namespace grace::plan {
namespace {

// Adds to out[i] (sized like ep.instances) the tokens tar sends to instance i of one expert.
void expert_shares(const ExpertPlacement& ep, double load_e, int nodes, int gpn, std::vector<double>& out) {
  const int m = ep.num_instances();
  const double d = load_e / (double(nodes) * gpn);
  out.assign(m, 0.0);
  std::vector<int> count(nodes, 0);
  std::vector<double> wnode(nodes, 0.0);
  double wall = 0;
  for (const auto& in : ep.instances) {
    int n = in.gpu / gpn;
    ++count[n], wnode[n] += in.weight, wall += in.weight;
  }
  int absent = 0;
  for (int n = 0; n < nodes; ++n) absent += count[n] == 0;
  const double remote = d * gpn * absent;
  for (int i = 0; i < m; ++i) {
    const auto& in = ep.instances[i];
    const int n = in.gpu / gpn;
    const double node_demand = d * (gpn - count[n]);
    const double qn = wnode[n] > 0 ? in.weight / wnode[n] : 1.0 / count[n];
    const double qa = wall > 0 ? in.weight / wall : 1.0 / m;
    out[i] = d + node_demand * qn + remote * qa;
  }
}

// Amount a node's instances absorb to reach water level `level` over their bases.
double absorbed(const std::vector<double>& base, double level) {
  double s = 0;
  for (double b : base) s += std::max(0.0, level - b);
  return s;
}

}  // namespace

std::vector<std::vector<double>> tar_instance_load(const LayerPlacement& lp, const std::vector<double>& load, int nodes,
                                                   int gpus_per_node) {
  std::vector<std::vector<double>> r(lp.experts.size());
  for (size_t e = 0; e < lp.experts.size(); ++e) expert_shares(lp.experts[e], load[e], nodes, gpus_per_node, r[e]);
  return r;
}

std::vector<double> tar_gpu_load(const LayerPlacement& lp, const std::vector<double>& load, int nodes,
                                 int gpus_per_node) {
  std::vector<double> g(size_t(nodes) * gpus_per_node, 0.0), sh;
  for (size_t e = 0; e < lp.experts.size(); ++e) {
    expert_shares(lp.experts[e], load[e], nodes, gpus_per_node, sh);
    for (size_t i = 0; i < sh.size(); ++i) g[lp.experts[e].instances[i].gpu] += sh[i];
  }
  return g;
}

void set_tar_weights(LayerPlacement& lp, const std::vector<double>& load, int nodes, int gpn, int sweeps) {
  const int E = int(lp.experts.size());
  std::vector<int> order;
  for (int e = 0; e < E; ++e)
    if (lp.experts[e].num_instances() > 1 && load[e] > 0) order.push_back(e);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return load[a] > load[b]; });
  std::vector<double> gpu = tar_gpu_load(lp, load, nodes, gpn), sh;
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    for (int e : order) {
      auto& ins = lp.experts[e].instances;
      const int m = int(ins.size());
      expert_shares(lp.experts[e], load[e], nodes, gpn, sh);
      for (int i = 0; i < m; ++i) gpu[ins[i].gpu] -= sh[i];
      const double d = load[e] / (double(nodes) * gpn);
      // Per hosting node: its instances' bases (other load + the own-GPU demand) and demand.
      std::vector<std::vector<int>> idx(nodes);
      for (int i = 0; i < m; ++i) idx[ins[i].gpu / gpn].push_back(i);
      std::vector<int> hosting;
      for (int n = 0; n < nodes; ++n)
        if (!idx[n].empty()) hosting.push_back(n);
      std::vector<std::vector<double>> base(nodes);
      std::vector<double> demand(nodes, 0.0), take(nodes, 0.0);
      double remote = 0, lo = 1e300, hi = -1e300;
      for (int n = 0; n < nodes; ++n) {
        if (idx[n].empty()) {
          remote += d * gpn;
          continue;
        }
        demand[n] = d * (gpn - int(idx[n].size()));
        for (int i : idx[n]) {
          base[n].push_back(gpu[ins[i].gpu] + d);
          lo = std::min(lo, base[n].back()), hi = std::max(hi, base[n].back());
        }
      }
      // Remote demand over the hosting nodes by one water level (each keeps its own demand).
      double total = remote;
      for (int n : hosting) total += demand[n];
      for (int n : hosting) take[n] = demand[n];
      if (remote > 0) {
        double a = lo, b = hi + total;
        for (int it = 0; it < 60; ++it) {
          double mid = 0.5 * (a + b), s = 0;
          for (int n : hosting) s += std::max(demand[n], absorbed(base[n], mid));
          (s < total ? a : b) = mid;
        }
        double s = 0;
        for (int n : hosting) s += (take[n] = std::max(demand[n], absorbed(base[n], b)));
        for (int n : hosting) take[n] *= total / s;  // exact total despite the bisection
      }
      // Inside each node: water fill; weight = node's share of the remote demand x in-node share.
      const double pfloor = 0.01 / hosting.size();
      for (int n : hosting) {
        auto x = water_fill(base[n], take[n]);
        double p = remote > 0 ? std::max(pfloor, (take[n] - demand[n]) / remote) : 1.0 / hosting.size();
        const double qfloor = 0.01 / idx[n].size();
        for (size_t j = 0; j < idx[n].size(); ++j) {
          double q = take[n] > 0 ? x[j] / take[n] : 1.0 / idx[n].size();
          ins[idx[n][j]].weight = p * std::max(qfloor, q);
        }
      }
      expert_shares(lp.experts[e], load[e], nodes, gpn, sh);
      for (int i = 0; i < m; ++i) gpu[ins[i].gpu] += sh[i];
    }
  }
}

}  // namespace grace::plan
