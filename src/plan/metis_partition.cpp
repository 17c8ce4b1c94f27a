#include "plan/metis_partition.h"

#include <metis.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>

#include "grace/error.h"

namespace grace::plan {

std::vector<int> metis_partition(const AffMat& a, const std::vector<double>& load, int k,
                                 const std::vector<double>& fractions, const MetisOptions& opt) {
  const int n = a.n;
  std::vector<int> part(n, 0);
  if (k <= 1 || n == 0) return part;
  if (n <= k) {
    for (int i = 0; i < n; ++i) part[i] = i;
    return part;
  }
  // Integer edge weights: affinity scaled so the total stays far below idx_t's range.
  double total = 0;
  for (double v : a.v) total += v;
  double escale = total > 0 ? std::min(1.0, 1e8 / total) : 1.0;
  // Sparsify: edge (i, j) stays when j is among i's strongest neighbours or i among j's.
  std::vector<char> keep(size_t(n) * n, 1);
  if (opt.max_degree > 0 && opt.max_degree < n - 1) {
    std::fill(keep.begin(), keep.end(), 0);
    std::vector<int> nb(n);
    for (int i = 0; i < n; ++i) {
      std::iota(nb.begin(), nb.end(), 0);
      std::partial_sort(nb.begin(), nb.begin() + opt.max_degree + 1, nb.end(), [&](int x, int y) {
        double ax = x == i ? -1 : a(i, x), ay = y == i ? -1 : a(i, y);
        return ax > ay || (ax == ay && x < y);
      });
      for (int t = 0; t < opt.max_degree; ++t) keep[size_t(i) * n + nb[t]] = keep[size_t(nb[t]) * n + i] = 1;
    }
  }
  std::vector<idx_t> xadj(1, 0), adjncy, adjwgt;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j || !keep[size_t(i) * n + j]) continue;
      idx_t w = idx_t(std::llround(a(i, j) * escale));
      if (w <= 0) continue;
      adjncy.push_back(j);
      adjwgt.push_back(w);
    }
    xadj.push_back(idx_t(adjncy.size()));
  }
  // Two vertex weights: 1 (count) and load scaled to at most 1e6 per expert (at least 1, so
  // that experts with no load still count).
  double lmax = load.empty() ? 0 : *std::max_element(load.begin(), load.end());
  double lscale = lmax > 0 ? 1e6 / lmax : 0;
  std::vector<idx_t> vwgt(size_t(2) * n);
  for (int i = 0; i < n; ++i) {
    vwgt[2 * i] = 1;
    vwgt[2 * i + 1] = std::max<idx_t>(1, idx_t(std::llround(load[i] * lscale)));
  }
  if (adjncy.empty()) {
    // No affinity at all: METIS has nothing to cut; balance load under the count targets.
    std::vector<int> order(n), cap(k), size(k, 0);
    std::vector<double> w(k, 0.0);
    for (int p = 0; p < k; ++p) cap[p] = int(std::ceil(n * (fractions.empty() ? 1.0 / k : fractions[p]) - 1e-9));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return load[x] > load[y]; });
    for (int i : order) {
      int best = -1;
      for (int p = 0; p < k; ++p)
        if (size[p] < cap[p] && (best < 0 || w[p] < w[best])) best = p;
      if (best < 0) best = int(std::min_element(size.begin(), size.end()) - size.begin());
      part[i] = best, w[best] += load[i], ++size[best];
    }
    return part;
  }
  std::vector<real_t> tpwgts(size_t(2) * k);
  for (int p = 0; p < k; ++p) {
    real_t f = fractions.empty() ? real_t(1.0 / k) : real_t(fractions[p]);
    tpwgts[2 * p] = tpwgts[2 * p + 1] = f;
  }
  std::vector<real_t> ubvec = {real_t(opt.count_imbalance), real_t(opt.load_imbalance)};
  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = idx_t(opt.seed % 1000003);
  options[METIS_OPTION_NUMBERING] = 0;
  idx_t nv = n, ncon = opt.balance_load ? 2 : 1, nparts = k, objval = 0;
  if (!opt.balance_load) {
    for (int i = 0; i < n; ++i) vwgt[i] = 1;
    for (int p = 0; p < k; ++p) tpwgts[p] = fractions.empty() ? real_t(1.0 / k) : real_t(fractions[p]);
  }
  std::vector<idx_t> out(n, 0);
  // NOTES: METIS seeds one process-wide random generator per call, so concurrent calls (the
  // planners plan layers in parallel) would interleave its draws: one call at a time keeps
  // every partition a function of its inputs and seed.
  static std::mutex metis_mutex;
  std::lock_guard<std::mutex> lock(metis_mutex);
  int rc = METIS_PartGraphKway(&nv, &ncon, xadj.data(), adjncy.data(), vwgt.data(), nullptr, adjwgt.data(), &nparts,
                               tpwgts.data(), ubvec.data(), options, &objval, out.data());
  GRACE_CHECK(rc == METIS_OK, "METIS_PartGraphKway failed with code {} ({} vertices, {} parts)", rc, n, k);
  for (int i = 0; i < n; ++i) part[i] = int(out[i]);
  return part;
}

}  // namespace grace::plan
