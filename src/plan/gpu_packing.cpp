#include "plan/gpu_packing.h"

#include <algorithm>
#include <numeric>

#include "grace/error.h"

namespace grace::plan {

std::vector<int> pack_node(const AffMat& a, const std::vector<PackItem>& items, int G, int slots,
                           const PackOptions& opt) {
  const int m = int(items.size());
  GRACE_CHECK(m <= G * slots, "{} instances do not fit {} GPUs x {} slots", m, G, slots);
  std::vector<int> gpu(m, -1);
  if (m == 0) return gpu;
  // Local expert ids and the item-by-item affinity (0 between copies of one expert).
  std::vector<int> experts;
  for (const auto& it : items) experts.push_back(it.expert);
  std::sort(experts.begin(), experts.end());
  experts.erase(std::unique(experts.begin(), experts.end()), experts.end());
  std::vector<int> local(m);
  for (int x = 0; x < m; ++x)
    local[x] = int(std::lower_bound(experts.begin(), experts.end(), items[x].expert) - experts.begin());
  const int U = int(experts.size());
  std::vector<double> A(size_t(m) * m, 0.0);
  double total_aff = 0;
  for (int x = 0; x < m; ++x)
    for (int y = 0; y < m; ++y)
      if (items[x].expert != items[y].expert) {
        A[size_t(x) * m + y] = a(items[x].expert, items[y].expert);
        if (x < y) total_aff += A[size_t(x) * m + y];
      }
  auto aff = [&](int x, int y) { return A[size_t(x) * m + y]; };

  // Greedy: heaviest first onto the least loaded GPU allowed (equal counts, no duplicate).
  const int base = m / G, extra = m % G;
  std::vector<int> count(G, 0);
  std::vector<double> L(G, 0.0), conn(size_t(m) * G, 0.0);
  std::vector<char> has(size_t(G) * U, 0);
  int plus = 0;
  std::vector<int> order(m);
  std::iota(order.begin(), order.end(), 0);
  // Copies of one expert go first (while every GPU has room they always fit on distinct GPUs),
  // then longest first.
  std::vector<int> copies(U, 0);
  for (int x = 0; x < m; ++x) ++copies[local[x]];
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    bool mx = copies[local[x]] > 1, my = copies[local[y]] > 1;
    if (mx != my) return mx;
    return items[x].load > items[y].load;
  });
  for (int x : order) {
    int best = -1;
    for (int g = 0; g < G; ++g) {
      bool room = count[g] < base || (count[g] == base && plus < extra);
      if (!room || has[size_t(g) * U + local[x]]) continue;
      if (best < 0 || L[g] < L[best] || (L[g] == L[best] && conn[size_t(x) * G + g] > conn[size_t(x) * G + best]))
        best = g;
    }
    GRACE_CHECK(best >= 0, "no GPU can take instance {} of expert {}", x, items[x].expert);
    if (count[best] == base) ++plus;
    gpu[x] = best, ++count[best], L[best] += items[x].load, has[size_t(best) * U + local[x]] = 1;
    for (int z = 0; z < m; ++z) conn[size_t(z) * G + best] += aff(z, x);
  }
  if (G == 1) return gpu;

  // Pairwise swaps between GPUs (counts unchanged).
  double mean = 0;
  for (double v : L) mean += v / G;
  const double inv2 = mean > 0 ? 1.0 / (mean * mean) : 0.0;
  const double wk = total_aff > 0 ? opt.affinity_weight / total_aff : 0.0;
  auto sq = [&](double v) { return (v - mean) * (v - mean); };
  // Window loads per GPU (LW[g * W + w]), their means, and the items' window loads in one block
  // (IW[x * W + w]): rows read contiguously by the swap search.
  const int W = opt.windows;
  std::vector<double> LW(size_t(W) * G, 0.0), wmean(size_t(W), 0.0), winv2(size_t(W), 0.0), IW(size_t(W) * m);
  for (int x = 0; x < m && W > 0; ++x) {
    GRACE_CHECK(int(items[x].window_load.size()) == W, "pack_node: item {} has no window loads", x);
    for (int w = 0; w < W; ++w) {
      IW[size_t(x) * W + w] = items[x].window_load[size_t(w)];
      LW[size_t(gpu[x]) * W + w] += items[x].window_load[size_t(w)];
    }
  }
  for (int w = 0; w < W; ++w) {
    for (int g = 0; g < G; ++g) wmean[size_t(w)] += LW[size_t(g) * W + w] / G;
    winv2[size_t(w)] = wmean[size_t(w)] > 0 ? opt.window_weight / (wmean[size_t(w)] * wmean[size_t(w)] * W) : 0.0;
  }
  // Per GPU and window, the load over the mean, kept in step with LW. Swapping x (on g) with y
  // (on h) moves d_w = IW[y][w] - IW[x][w] onto g and off h, so the window term changes by
  //   sum_w winv2_w ((c_gw + d_w)^2 + (c_hw - d_w)^2 - c_gw^2 - c_hw^2)
  //   = sum_w 2 winv2_w d_w (c_gw - c_hw + d_w),
  // summed in four interleaved parts (independent additions: the loop is not one long chain).
  std::vector<double> LC(size_t(W) * G), wi2(static_cast<size_t>(W));
  for (int w = 0; w < W; ++w) wi2[size_t(w)] = 2 * winv2[size_t(w)];
  auto center = [&](int g) {
    for (int w = 0; w < W; ++w) LC[size_t(g) * W + w] = LW[size_t(g) * W + w] - wmean[size_t(w)];
  };
  for (int g = 0; g < G; ++g) center(g);
  auto window_delta = [&](int x, int y, int g, int h) {
    const double* ix = IW.data() + size_t(x) * W;
    const double* iy = IW.data() + size_t(y) * W;
    const double *cg = LC.data() + size_t(g) * W, *ch = LC.data() + size_t(h) * W;
    const double* wi = wi2.data();
    double d[4] = {0, 0, 0, 0};
    int w = 0;
    for (; w + 4 <= W; w += 4)
      for (int i = 0; i < 4; ++i) {
        const double dw = iy[w + i] - ix[w + i];
        d[i] += wi[w + i] * dw * (cg[w + i] - ch[w + i] + dw);
      }
    for (; w < W; ++w) {
      const double dw = iy[w] - ix[w];
      d[0] += wi[w] * dw * (cg[w] - ch[w] + dw);
    }
    return (d[0] + d[1]) + (d[2] + d[3]);
  };
  for (int pass = 0; pass < opt.max_passes; ++pass) {
    int moved = 0;
    for (int x = 0; x < m; ++x) {
      const int g = gpu[x];
      int best_y = -1;
      double best = -1e-12;
      for (int y = 0; y < m; ++y) {
        const int h = gpu[y];
        if (h == g || local[x] == local[y]) continue;
        if (has[size_t(h) * U + local[x]] || has[size_t(g) * U + local[y]]) continue;
        const double tx = items[x].load, ty = items[y].load;
        double dbal = (sq(L[g] - tx + ty) + sq(L[h] - ty + tx) - sq(L[g]) - sq(L[h])) * inv2;
        double dkept = conn[size_t(x) * G + h] - conn[size_t(x) * G + g] + conn[size_t(y) * G + g] -
                       conn[size_t(y) * G + h] - 2 * aff(x, y);
        double dj = dbal - wk * dkept;
        if (W > 0) dj += window_delta(x, y, g, h);
        if (dj < best) best = dj, best_y = y;
      }
      if (best_y < 0) continue;
      const int y = best_y, h = gpu[y];
      L[g] += items[y].load - items[x].load, L[h] += items[x].load - items[y].load;
      for (int w = 0; w < W; ++w) {
        const double d = items[y].window_load[size_t(w)] - items[x].window_load[size_t(w)];
        LW[size_t(g) * W + w] += d, LW[size_t(h) * W + w] -= d;
      }
      center(g), center(h);
      for (int z = 0; z < m; ++z) {
        conn[size_t(z) * G + g] += aff(z, y) - aff(z, x);
        conn[size_t(z) * G + h] += aff(z, x) - aff(z, y);
      }
      has[size_t(g) * U + local[x]] = 0, has[size_t(h) * U + local[y]] = 0;
      has[size_t(h) * U + local[x]] = 1, has[size_t(g) * U + local[y]] = 1;
      gpu[x] = h, gpu[y] = g;
      ++moved;
    }
    if (moved == 0) break;
  }
  return gpu;
}

}  // namespace grace::plan
