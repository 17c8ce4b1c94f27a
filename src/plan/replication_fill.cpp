#include <algorithm>

#include "grace/error.h"
#include "plan/plan_util.h"
#include "plan/replication.h"

namespace grace::plan {
namespace {

// Re-spreads expert e's load over its instances by water filling; updates GPU loads and shares.
void rebalance_expert(LayerPlacement& lp, std::vector<std::vector<double>>& share, std::vector<double>& gpu,
                      const std::vector<double>& load, int e) {
  auto& ins = lp.experts[e].instances;
  std::vector<double> base(ins.size());
  for (size_t i = 0; i < ins.size(); ++i) base[i] = gpu[ins[i].gpu] - share[e][i];
  auto x = water_fill(base, load[e]);
  for (size_t i = 0; i < ins.size(); ++i) gpu[ins[i].gpu] = base[i] + x[i];
  share[e] = x;
}

}  // namespace

int replicate_fill(LayerPlacement& lp, const std::vector<double>& load, int nodes, int gpus_per_node, int slots) {
  const int num_experts = int(lp.experts.size()), num_gpus = nodes * gpus_per_node;
  std::vector<double> gpu(num_gpus, 0.0);
  std::vector<int> used(num_gpus, 0);
  std::vector<std::vector<double>> share(num_experts);
  std::vector<std::vector<char>> on_gpu(num_experts, std::vector<char>(num_gpus, 0));
  std::vector<std::vector<char>> on_node(num_experts, std::vector<char>(nodes, 0));
  for (int e = 0; e < num_experts; ++e) {
    GRACE_CHECK(lp.experts[e].num_instances() == 1, "expert {} already replicated", e);
    int g = lp.experts[e].primary_gpu();
    gpu[g] += load[e], ++used[g];
    share[e] = {load[e]};
    on_gpu[e][g] = 1, on_node[e][g / gpus_per_node] = 1;
  }
  int free_slots = 0;
  for (int g = 0; g < num_gpus; ++g) free_slots += std::max(0, slots - used[g]);

  int added = 0;
  std::vector<char> full(num_experts, 0);  // no GPU with room lacks this expert
  while (added < free_slots) {
    // While the GPUs are unbalanced: the expert with the largest share on the most loaded GPU.
    // Once balanced: the expert with the most load per instance (locality for more tokens).
    int best_e = -1;
    double best_v = -1;
    int hot = int(std::max_element(gpu.begin(), gpu.end()) - gpu.begin());
    double mean = 0;
    for (double v : gpu) mean += v / num_gpus;
    if (gpu[hot] > mean * (1 + 1e-3)) {
      for (int e = 0; e < num_experts; ++e) {
        if (full[e] || !on_gpu[e][hot]) continue;
        const auto& ins = lp.experts[e].instances;
        for (size_t i = 0; i < ins.size(); ++i)
          if (ins[i].gpu == hot && share[e][i] > best_v) best_v = share[e][i], best_e = e;
      }
    }
    if (best_e < 0) {
      for (int e = 0; e < num_experts; ++e) {
        if (full[e]) continue;
        double v = load[e] / lp.experts[e].num_instances();
        if (v > best_v) best_v = v, best_e = e;
      }
    }
    if (best_e < 0) break;
    // Where: least-loaded GPU with room on a node without the expert, else anywhere with room.
    int target = -1;
    for (int pass = 0; pass < 2 && target < 0; ++pass)
      for (int g = 0; g < num_gpus; ++g) {
        if (used[g] >= slots || on_gpu[best_e][g]) continue;
        if (pass == 0 && on_node[best_e][g / gpus_per_node]) continue;
        if (target < 0 || gpu[g] < gpu[target]) target = g;
      }
    if (target < 0) {
      full[best_e] = 1;
      continue;
    }
    lp.experts[best_e].instances.push_back(Instance{target, 1.0});
    share[best_e].push_back(0.0);
    on_gpu[best_e][target] = 1, on_node[best_e][target / gpus_per_node] = 1, ++used[target];
    rebalance_expert(lp, share, gpu, load, best_e);
    ++added;
  }
  // Later moves changed the GPUs under earlier experts: a few sweeps, heaviest first.
  std::vector<int> replicated;
  for (int e = 0; e < num_experts; ++e)
    if (lp.experts[e].num_instances() > 1) replicated.push_back(e);
  std::stable_sort(replicated.begin(), replicated.end(), [&](int a, int b) { return load[a] > load[b]; });
  for (int sweep = 0; sweep < 3; ++sweep)
    for (int e : replicated) rebalance_expert(lp, share, gpu, load, e);
  // Weights are the shares; an instance the water level left dry keeps a small positive weight
  // (it still serves its own GPU's and node's tokens under topology-aware routing).
  for (int e : replicated) {
    auto& ins = lp.experts[e].instances;
    double floor_w = 0.01 / ins.size();
    for (size_t i = 0; i < ins.size(); ++i)
      ins[i].weight = load[e] > 0 ? std::max(floor_w, share[e][i] / load[e]) : 1.0;
  }
  return added;
}

}  // namespace grace::plan
