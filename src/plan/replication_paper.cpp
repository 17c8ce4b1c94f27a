#include <algorithm>
#include <cmath>
#include <numeric>

#include "grace/error.h"
#include "plan/plan_util.h"
#include "plan/replication.h"

namespace grace::plan {

PaperReplication replicate_paper(LayerPlacement& lp, const std::vector<double>& load, int num_gpus, int slots) {
  PaperReplication res;
  const int num_experts = int(lp.experts.size());
  std::vector<double> w(num_gpus, 0.0);
  std::vector<int> used(num_gpus, 0);
  std::vector<std::vector<int>> hosted(num_gpus);
  for (int e = 0; e < num_experts; ++e) {
    GRACE_CHECK(lp.experts[e].num_instances() == 1, "expert {} already replicated", e);
    int g = lp.experts[e].primary_gpu();
    w[g] += load[e], ++used[g], hosted[g].push_back(e);
  }
  double total = std::accumulate(w.begin(), w.end(), 0.0), mean = total / num_gpus;
  int heavy = int(std::max_element(w.begin(), w.end()) - w.begin());
  if (num_gpus < 2 || mean <= 0) return res;
  res.rho = w[heavy] / mean;
  int n = std::min(std::max(1, int(std::floor(res.rho))), num_gpus - 1);

  // Hot set: the shortest load-sorted prefix of the heaviest group reaching W_max n / (n + 1).
  auto hot = hosted[heavy];
  std::stable_sort(hot.begin(), hot.end(), [&](int a, int b) { return load[a] > load[b]; });
  double target = w[heavy] * n / (n + 1), acc = 0;
  size_t len = 0;
  while (len < hot.size() && acc < target) acc += load[hot[len++]];
  hot.resize(len);
  res.copies_wanted = n * int(hot.size());

  // Targets: the n least-loaded GPUs that have a free slot.
  std::vector<int> order(num_gpus);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return w[a] < w[b]; });
  int taken = 0;
  for (int g : order) {
    if (taken == n) break;
    if (g == heavy || used[g] >= slots) continue;
    ++taken;
    for (int e : hot) {
      if (used[g] >= slots) break;
      lp.experts[e].instances.push_back(Instance{g, 1.0});
      ++used[g], ++res.copies_placed;
    }
  }

  // Load prediction: each hot expert's load splits evenly over its instances.
  std::vector<double> pred(num_gpus, 0.0);
  for (int e = 0; e < num_experts; ++e) {
    const auto& ins = lp.experts[e].instances;
    for (const auto& in : ins) pred[in.gpu] += load[e] / double(ins.size());
  }
  for (int e : hot) {
    auto& ins = lp.experts[e].instances;
    if (ins.size() < 2) continue;
    for (auto& in : ins) in.weight = pred[in.gpu] > 0 ? 1.0 / pred[in.gpu] : 1.0;
  }
  return res;
}

}  // namespace grace::plan
