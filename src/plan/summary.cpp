// summarize_plan: the numbers `grace plan` prints (see PlanSummary in grace/planner.h).
#include <algorithm>

#include "grace/error.h"
#include "grace/planner.h"
#include "plan/plan_util.h"

namespace grace {

PlanSummary summarize_plan(const Placement& p, const Profile& profile) {
  GRACE_INPUT_CHECK(profile.num_layers == p.num_layers && profile.num_experts == p.num_experts,
                    "the profile ({} layers x {} experts) does not match the placement ({} x {})", profile.num_layers,
                    profile.num_experts, p.num_layers, p.num_experts);
  GRACE_INPUT_CHECK(int(p.layers.size()) == p.num_layers && int(profile.layers.size()) == p.num_layers,
                    "the placement or profile is missing layers");
  PlanSummary s;
  s.slots_available = p.slots_per_gpu;
  const int G = p.num_gpus(), E = p.num_experts;
  double aff_total = 0, aff_gpu = 0, aff_node = 0, mm_sum = 0;
  for (int l = 0; l < p.num_layers; ++l) {
    const auto& layer = p.layers[l];
    GRACE_INPUT_CHECK(int(layer.experts.size()) == E, "placement layer {} has {} experts, expected {}", l,
                      layer.experts.size(), E);
    std::vector<int> used(G, 0), primary(E);
    int instances = 0;
    for (int e = 0; e < E; ++e) {
      GRACE_INPUT_CHECK(!layer.experts[e].instances.empty(), "layer {}, expert {}: no instance", l, e);
      for (const auto& in : layer.experts[e].instances) {
        GRACE_INPUT_CHECK(in.gpu >= 0 && in.gpu < G, "layer {}, expert {}: GPU {} out of range", l, e, in.gpu);
        ++used[in.gpu], ++instances;
      }
      primary[e] = layer.experts[e].primary_gpu();
    }
    s.replicas_per_layer.push_back(instances - E);
    s.slots_used_max = std::max(s.slots_used_max, *std::max_element(used.begin(), used.end()));
    const auto& lp = profile.layers[l];
    for (int i = 0; i < E; ++i)
      for (int j = i + 1; j < E; ++j) {
        double a = double(lp.aff(i, j));
        if (a == 0) continue;
        aff_total += a;
        if (primary[i] == primary[j]) aff_gpu += a;
        if (primary[i] / p.gpus_per_node == primary[j] / p.gpus_per_node) aff_node += a;
      }
    std::vector<double> load(lp.load.begin(), lp.load.end());
    auto g = plan::predicted_gpu_load(layer, load, G);
    double mean = 0;
    for (double v : g) mean += v;
    mean /= G;
    mm_sum += mean > 0 ? *std::max_element(g.begin(), g.end()) / mean : 1.0;
  }
  s.affinity_in_gpu = aff_total > 0 ? aff_gpu / aff_total : 0;
  s.affinity_in_node = aff_total > 0 ? aff_node / aff_total : 0;
  s.predicted_max_mean = p.num_layers > 0 ? mm_sum / p.num_layers : 0;
  return s;
}

}  // namespace grace
