#include "plan/replan_layer.h"

#include <algorithm>
#include <bit>

#include "grace/error.h"

namespace grace::plan {
namespace {

// Node visits of edge h summed over source nodes, given who hosts each expert (mask) and its
// home node: a source s visits every home node of a pin missing on s.
int64_t edge_visits(const Hypergraph& hg, int h, const uint32_t* mask, const int* home, int nodes) {
  const uint16_t* p = hg.edge(h);
  uint32_t m[16], hb[16];
  const int k = std::min(hg.k, 16);
  uint32_t all = ~0u;
  for (int j = 0; j < k; ++j) m[j] = mask[p[j]], hb[j] = 1u << home[p[j]], all &= m[j];
  if (nodes == 1) return 0;
  int64_t c = 0;
  for (int s = 0; s < nodes; ++s) {
    if ((all >> s) & 1u) continue;  // every pin on s
    uint32_t need = 0;
    for (int j = 0; j < k; ++j)
      if (!((m[j] >> s) & 1u)) need |= hb[j];
    while (need) need &= need - 1, ++c;  // popcount (need has at most `nodes` bits)
  }
  return c;
}

struct Ranked {
  int64_t delta;
  int e, i;
  bool operator<(const Ranked& o) const {
    if (delta != o.delta) return delta < o.delta;
    return e != o.e ? e < o.e : i < o.i;
  }
};

void keep_top(std::vector<Ranked>& v, int n) {
  std::sort(v.begin(), v.end());
  if (int(v.size()) > n) v.resize(static_cast<size_t>(n));
}

}  // namespace

LayerSearch::LayerSearch(const Hypergraph& hg, std::vector<double> load, const LayerPlacement& old, int nodes, int gpn,
                         LayerLimits limits)
    : hg_(hg), load_(std::move(load)), E_(int(old.experts.size())), N_(nodes), Gn_(gpn), G_(nodes * gpn), lim_(limits) {
  GRACE_CHECK(N_ >= 1 && N_ <= 32, "replan supports 1..32 nodes, got {}", N_);
  GRACE_CHECK(hg.k <= 16, "replan supports top-k up to 16, got {}", hg.k);
  gpus_.resize(static_cast<size_t>(E_));
  old_.assign(size_t(E_) * G_, 0);
  for (int e = 0; e < E_; ++e)
    for (const auto& in : old.experts[size_t(e)].instances) {
      gpus_[size_t(e)].push_back(in.gpu);
      old_[size_t(e) * G_ + in.gpu] = 1;
    }
  mask_.assign(size_t(E_), 0);
  home_.assign(size_t(E_), 0);
  for (int e = 0; e < E_; ++e) refresh(e);
  gpu_load_.assign(size_t(G_), 0.0);
  for (int e = 0; e < E_; ++e) add_load(e, 1.0);
  double total = 0;
  for (double x : load_) total += x;
  gpu_limit_ = (1 + lim_.gpu_tol) * total / G_;
  node_limit_ = (1 + lim_.node_tol) * total / N_;
  objective_ = objective_of(gpus_);
  seen_.assign(size_t(hg_.num_edges), -1);
}

void LayerSearch::set_target(const LayerPlacement& target) {
  target_.assign(size_t(E_), {});
  for (int e = 0; e < E_; ++e)
    for (const auto& in : target.experts[size_t(e)].instances) target_[size_t(e)].push_back(in.gpu);
  target_objective_ = objective_of(target_);
  target_moves_ = moves_of(target_);
}

void LayerSearch::refresh(int e) {
  uint32_t m = 0;
  for (int g : gpus_[size_t(e)]) m |= 1u << (g / Gn_);
  mask_[size_t(e)] = m;
  home_[size_t(e)] = gpus_[size_t(e)].front() / Gn_;
}

int64_t LayerSearch::edge_cost(int h) const { return edge_visits(hg_, h, mask_.data(), home_.data(), N_); }

int64_t LayerSearch::cost_of(int e, int f) const {
  int64_t c = 0;
  for (int i = hg_.inc_offset[e]; i < hg_.inc_offset[e + 1]; ++i) c += edge_cost(hg_.inc[size_t(i)]);
  if (f < 0) return c;
  for (int i = hg_.inc_offset[f]; i < hg_.inc_offset[f + 1]; ++i) {
    const int h = hg_.inc[size_t(i)];
    const uint16_t* p = hg_.edge(h);
    if (std::find(p, p + hg_.k, uint16_t(e)) != p + hg_.k) continue;  // counted with e
    c += edge_cost(h);
  }
  return c;
}

int64_t LayerSearch::objective_of(const std::vector<std::vector<int>>& inst) const {
  std::vector<uint32_t> mask(size_t(E_), 0);
  std::vector<int> home(size_t(E_), 0);
  for (int e = 0; e < E_; ++e) {
    for (int g : inst[size_t(e)]) mask[size_t(e)] |= 1u << (g / Gn_);
    home[size_t(e)] = inst[size_t(e)].front() / Gn_;
  }
  int64_t c = 0;
  for (int h = 0; h < hg_.num_edges; ++h) c += edge_visits(hg_, h, mask.data(), home.data(), N_);
  return c;
}

int64_t LayerSearch::moves_of(const std::vector<std::vector<int>>& inst) const {
  int64_t m = 0;
  for (int e = 0; e < E_; ++e)
    for (int g : inst[size_t(e)]) m += !old_on(e, g);
  return m;
}

// tar estimate (node_sets.h): a hosting node serves its own share load/N plus an even share of
// the demand of the nodes without the expert, split over its copies.
void LayerSearch::add_load(int e, double sign) {
  const auto& g = gpus_[size_t(e)];
  int copies[32] = {};
  for (int x : g) ++copies[x / Gn_];
  const int h = std::popcount(mask_[size_t(e)]);
  const double l = load_[size_t(e)];
  const double per_node = l / N_ + l * double(N_ - h) / N_ / std::max(1, h);
  for (int x : g) gpu_load_[size_t(x)] += sign * per_node / copies[x / Gn_];
}

bool LayerSearch::load_ok() const {
  double gmax = 0, nmax = 0;
  for (int n = 0; n < N_; ++n) {
    double s = 0;
    for (int j = 0; j < Gn_; ++j) {
      s += gpu_load_[size_t(n * Gn_ + j)];
      gmax = std::max(gmax, gpu_load_[size_t(n * Gn_ + j)]);
    }
    nmax = std::max(nmax, s);
  }
  const double eps = 1e-9 * (1 + gpu_cap_);
  return gmax <= gpu_cap_ + eps && nmax <= node_cap_ + eps * Gn_;
}

bool LayerSearch::try_swap(int e, int ie, int f, int jf, int64_t& delta) {
  const int ge = gpus_[size_t(e)][size_t(ie)], gf = gpus_[size_t(f)][size_t(jf)];
  const auto& ie_list = gpus_[size_t(e)];
  const auto& jf_list = gpus_[size_t(f)];
  if (std::find(ie_list.begin(), ie_list.end(), gf) != ie_list.end()) return false;
  if (std::find(jf_list.begin(), jf_list.end(), ge) != jf_list.end()) return false;
  const int64_t before = cost_of(e, f);
  const auto saved = gpu_load_;
  add_load(e, -1), add_load(f, -1);
  gpus_[size_t(e)][size_t(ie)] = gf, gpus_[size_t(f)][size_t(jf)] = ge;
  refresh(e), refresh(f);
  add_load(e, 1), add_load(f, 1);
  delta = cost_of(e, f) - before;
  const bool ok = load_ok();
  gpus_[size_t(e)][size_t(ie)] = ge, gpus_[size_t(f)][size_t(jf)] = gf;
  refresh(e), refresh(f);
  gpu_load_ = saved;
  return ok;
}

bool LayerSearch::try_replace(int e, int ie, int f, int64_t& delta) {
  auto& le = gpus_[size_t(e)];
  auto& lf = gpus_[size_t(f)];
  const int g = le[size_t(ie)];
  if (le.size() < 2 || std::find(lf.begin(), lf.end(), g) != lf.end()) return false;
  const int64_t before = cost_of(e, f);
  const auto saved = gpu_load_;
  add_load(e, -1), add_load(f, -1);
  le.erase(le.begin() + ie);
  lf.push_back(g);
  refresh(e), refresh(f);
  add_load(e, 1), add_load(f, 1);
  delta = cost_of(e, f) - before;
  const bool ok = load_ok();
  lf.pop_back();
  le.insert(le.begin() + ie, g);
  refresh(e), refresh(f);
  gpu_load_ = saved;
  return ok;
}

Change LayerSearch::best_change(int64_t max_cost) {
  Change best;
  {  // caps: the limits, or the current maxima when already above them (never get worse)
    double gmax = 0, nmax = 0;
    for (int n = 0; n < N_; ++n) {
      double s = 0;
      for (int j = 0; j < Gn_; ++j)
        s += gpu_load_[size_t(n * Gn_ + j)], gmax = std::max(gmax, gpu_load_[size_t(n * Gn_ + j)]);
      nmax = std::max(nmax, s);
    }
    gpu_cap_ = std::max(gpu_limit_, gmax);
    node_cap_ = std::max(node_limit_, nmax);
  }
  auto consider = [&](const Change& c) {
    if (c.gain <= 0 || c.cost > max_cost) return;
    if (best.kind == Change::kNone || c.score() > best.score() + 1e-12) best = c;
  };
  auto on = [&](int e, int g) { return old_on(e, g) ? 0 : 1; };
  const int T = lim_.candidates;
  if (N_ > 1) {
    // Single-instance moves a -> b, ranked by their exact delta (ignoring slots and load).
    std::vector<std::vector<Ranked>> mv(size_t(N_) * N_);
    for (int e = 0; e < E_; ++e) {
      for (int ie = 0; ie < int(gpus_[size_t(e)].size()); ++ie) {
        const int g = gpus_[size_t(e)][size_t(ie)], a = g / Gn_;
        const int64_t before = cost_of(e, -1);
        for (int b = 0; b < N_; ++b) {
          if (b == a || ((mask_[size_t(e)] >> b) & 1u)) continue;
          gpus_[size_t(e)][size_t(ie)] = b * Gn_;
          refresh(e);
          mv[size_t(a) * N_ + b].push_back({cost_of(e, -1) - before, e, ie});
          gpus_[size_t(e)][size_t(ie)] = g;
          refresh(e);
        }
      }
    }
    for (auto& v : mv) keep_top(v, T);
    // Pairs ranked by the sum of their single deltas; the best few are scored exactly.
    struct Pair {
      int64_t approx;
      Ranked x, y;
    };
    std::vector<Pair> pairs;
    for (int a = 0; a < N_; ++a)
      for (int b = a + 1; b < N_; ++b)
        for (const auto& x : mv[size_t(a) * N_ + b])
          for (const auto& y : mv[size_t(b) * N_ + a]) pairs.push_back({x.delta + y.delta, x, y});
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& p, const Pair& q) { return p.approx < q.approx; });
    if (int(pairs.size()) > lim_.exact) pairs.resize(size_t(lim_.exact));
    for (const auto& pr : pairs) {
      const Ranked &x = pr.x, &y = pr.y;
      const int ge = gpus_[size_t(x.e)][size_t(x.i)], gf = gpus_[size_t(y.e)][size_t(y.i)];
      Change c{Change::kSwap, x.e, x.i, y.e, y.i, 0, on(x.e, gf) + on(y.e, ge) - on(x.e, ge) - on(y.e, gf)};
      if (c.cost > max_cost) continue;
      int64_t d = 0;
      if (!try_swap(x.e, x.i, y.e, y.i, d)) continue;
      c.gain = -d;
      consider(c);
    }
    // Replacements on node n: drop an instance of an expert that has another, add one it lacks.
    for (int n = 0; n < N_; ++n) {
      std::vector<Ranked> drop, add;
      for (int e = 0; e < E_; ++e) {
        auto& l = gpus_[size_t(e)];
        if (!((mask_[size_t(e)] >> n) & 1u)) {
          const int64_t before = cost_of(e, -1);
          l.push_back(n * Gn_);
          refresh(e);
          add.push_back({cost_of(e, -1) - before, e, 0});
          l.pop_back();
          refresh(e);
          continue;
        }
        if (l.size() < 2) continue;
        for (int ie = 0; ie < int(l.size()); ++ie) {
          const int g = l[size_t(ie)];
          if (g / Gn_ != n) continue;
          const int64_t before = cost_of(e, -1);
          l.erase(l.begin() + ie);
          refresh(e);
          drop.push_back({cost_of(e, -1) - before, e, ie});
          l.insert(l.begin() + ie, g);
          refresh(e);
        }
      }
      keep_top(drop, T);
      keep_top(add, T);
      struct Pair {
        int64_t approx;
        Ranked x, y;
      };
      std::vector<Pair> pairs;
      for (const auto& x : drop)
        for (const auto& y : add)
          if (x.e != y.e) pairs.push_back({x.delta + y.delta, x, y});
      std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& p, const Pair& q) { return p.approx < q.approx; });
      if (int(pairs.size()) > lim_.exact) pairs.resize(size_t(lim_.exact));
      for (const auto& pr : pairs) {
        const Ranked &x = pr.x, &y = pr.y;
        const int g = gpus_[size_t(x.e)][size_t(x.i)];
        Change c{Change::kReplace, x.e, x.i, y.e, -1, 0, on(y.e, g) - on(x.e, g)};
        if (c.cost > max_cost) continue;
        int64_t d = 0;
        if (!try_replace(x.e, x.i, y.e, d)) continue;
        c.gain = -d;
        consider(c);
      }
    }
  }
  if (!target_.empty()) {
    Change c;
    c.kind = Change::kAdopt;
    c.gain = objective_ - target_objective_;
    c.cost = int(target_moves_ - moves_);
    consider(c);
  }
  return best;
}

void LayerSearch::apply(const Change& c) {
  GRACE_CHECK(c.kind != Change::kNone, "apply: no change");
  if (c.kind == Change::kAdopt) {
    gpus_ = target_;
    for (int e = 0; e < E_; ++e) refresh(e);
    std::fill(gpu_load_.begin(), gpu_load_.end(), 0.0);
    for (int e = 0; e < E_; ++e) add_load(e, 1.0);
    objective_ = target_objective_;
  } else {
    const int64_t before = cost_of(c.e, c.f);
    add_load(c.e, -1), add_load(c.f, -1);
    auto& le = gpus_[size_t(c.e)];
    auto& lf = gpus_[size_t(c.f)];
    if (c.kind == Change::kSwap) {
      std::swap(le[size_t(c.ie)], lf[size_t(c.jf)]);
    } else {
      const int g = le[size_t(c.ie)];
      le.erase(le.begin() + c.ie);
      lf.push_back(g);
    }
    refresh(c.e), refresh(c.f);
    add_load(c.e, 1), add_load(c.f, 1);
    objective_ += cost_of(c.e, c.f) - before;
  }
  moves_ = moves_of(gpus_);
  changed_ = true;
}

}  // namespace grace::plan
