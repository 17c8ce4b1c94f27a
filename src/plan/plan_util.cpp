#include "plan/plan_util.h"

#include <algorithm>
#include <numeric>

#include "grace/error.h"

namespace grace::plan {

double AffMat::total_pairs() const {
  double s = 0;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) s += (*this)(i, j);
  return s;
}

AffMat layer_affinity(const LayerProfile& lp) {
  AffMat a;
  a.n = lp.num_experts;
  GRACE_CHECK(lp.affinity.size() == size_t(a.n) * a.n, "affinity has {} entries, expected {}", lp.affinity.size(),
              size_t(a.n) * a.n);
  a.v.resize(lp.affinity.size());
  for (size_t i = 0; i < a.v.size(); ++i) a.v[i] = double(lp.affinity[i]);
  for (int i = 0; i < a.n; ++i) a.at(i, i) = 0;
  return a;
}

AffMat sub_affinity(const AffMat& a, const std::vector<int>& members) {
  AffMat s;
  s.n = int(members.size());
  s.v.resize(size_t(s.n) * s.n);
  for (int i = 0; i < s.n; ++i)
    for (int j = 0; j < s.n; ++j) s.at(i, j) = a(members[i], members[j]);
  return s;
}

std::vector<double> layer_load(const LayerProfile& lp) {
  GRACE_CHECK(lp.load.size() == size_t(lp.num_experts), "load has {} entries, expected {}", lp.load.size(),
              lp.num_experts);
  return std::vector<double>(lp.load.begin(), lp.load.end());
}

LayerPlacement primaries_layer(const std::vector<int>& gpu_of) {
  LayerPlacement lp;
  lp.experts.resize(gpu_of.size());
  for (size_t e = 0; e < gpu_of.size(); ++e) lp.experts[e].instances = {Instance{gpu_of[e], 1.0}};
  return lp;
}

std::vector<std::vector<int>> members_of(const std::vector<int>& assign, int k) {
  std::vector<std::vector<int>> g(k);
  for (int i = 0; i < int(assign.size()); ++i) {
    GRACE_CHECK(assign[i] >= 0 && assign[i] < k, "member {} in group {} of {}", i, assign[i], k);
    g[assign[i]].push_back(i);
  }
  return g;
}

std::vector<double> water_fill(const std::vector<double>& base, double total) {
  const int m = int(base.size());
  std::vector<double> x(m, 0.0);
  if (m == 0 || total <= 0) return x;
  std::vector<int> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return base[a] < base[b]; });
  // Raise the level over the lowest bases until the total is spent.
  double level = base[order[0]], spent = 0;
  int used = 1;
  while (true) {
    double next = used < m ? base[order[used]] : 1e300;
    double need = (next - level) * used;
    if (spent + need >= total) {
      level += (total - spent) / used;
      break;
    }
    spent += need;
    level = next;
    ++used;
  }
  for (int i = 0; i < m; ++i) x[i] = std::max(0.0, level - base[i]);
  return x;
}

std::vector<double> predicted_gpu_load(const LayerPlacement& lp, const std::vector<double>& load, int num_gpus) {
  std::vector<double> g(num_gpus, 0.0);
  for (size_t e = 0; e < lp.experts.size(); ++e) {
    double wsum = 0;
    for (const auto& in : lp.experts[e].instances) wsum += in.weight;
    for (const auto& in : lp.experts[e].instances)
      g[in.gpu] += load[e] * (wsum > 0 ? in.weight / wsum : 1.0 / lp.experts[e].instances.size());
  }
  return g;
}

void add_note(std::vector<std::string>* log, std::string line) {
  if (log) log->push_back(std::move(line));
}

}  // namespace grace::plan
