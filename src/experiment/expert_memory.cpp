// expert_memory / redundant_slots_for_extra_pct (see grace/expert_memory.h).
#include "grace/expert_memory.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "grace/placement.h"

namespace grace {

ExpertMemory expert_memory(const Placement& p) {
  ExpertMemory m;
  const int L = p.num_layers, G = p.num_gpus();
  if (L <= 0 || G <= 0 || p.num_experts <= 0) return m;
  std::vector<int64_t> per_gpu(size_t(G), 0);
  int64_t total = 0;
  for (const auto& layer : p.layers)
    for (const auto& e : layer.experts)
      for (const auto& inst : e.instances) {
        if (inst.gpu >= 0 && inst.gpu < G) ++per_gpu[size_t(inst.gpu)];
        ++total;
      }
  m.instances_per_gpu = double(*std::max_element(per_gpu.begin(), per_gpu.end())) / double(L);
  const double one_copy = double(L) * double(p.num_experts);
  m.extra_pct = 100.0 * (double(total) - one_copy) / one_copy;
  return m;
}

int redundant_slots_for_extra_pct(double pct, int experts, int num_gpus) {
  const int64_t want = std::llround(std::max(0.0, pct) / 100.0 * double(experts));
  const int64_t g = std::max(1, num_gpus);
  const int64_t total = (int64_t(experts) + want + g - 1) / g * g;
  return int(total - experts);
}

}  // namespace grace
