#include "plan/node_refine.h"

#include <algorithm>

#include "grace/error.h"

namespace grace::plan {
namespace {

class Refiner {
 public:
  Refiner(const Hypergraph& hg, const std::vector<double>& load, int nodes, std::vector<int>& node_of)
      : hg_(hg), load_(load), N_(nodes), node_of_(node_of) {
    const int E = hg.num_experts;
    cnt_.assign(size_t(hg.num_edges) * N_, 0);
    for (int h = 0; h < hg.num_edges; ++h)
      for (int j = 0; j < hg.k; ++j) ++cnt_[size_t(h) * N_ + node_of_[hg.edge(h)[j]]];
    emark_.assign(size_t(hg.num_edges), 0);
    pos_.assign(size_t(E), 0);
    neg_.assign(size_t(E) * N_, 0);
    for (int h = 0; h < hg.num_edges; ++h) edge_terms(h, +1);
    size_.assign(size_t(N_), 0);
    nload_.assign(size_t(N_), 0.0);
    for (int e = 0; e < E; ++e) ++size_[node_of_[e]], nload_[node_of_[e]] += load_[e];
  }

  int gain(int e, int b) const { return pos_[e] - neg_[size_t(e) * N_ + b]; }

  // Moves e to b, updating the gains of the pins of e's edges where a count crosses 0, 1, 2.
  void move(int e, int b) {
    const int a = node_of_[e];
    for (int32_t i = hg_.inc_offset[e]; i < hg_.inc_offset[e + 1]; ++i) {
      const int h = hg_.inc[i];
      const uint16_t* p = hg_.edge(h);
      uint16_t* c = cnt_.data() + size_t(h) * N_;
      const int ca = c[a], cb = c[b];
      pos_[e] += (cb + 1 == 1) - (ca == 1);  // e's own term: last on a before, last on b after
      c[a] = uint16_t(ca - 1);
      c[b] = uint16_t(cb + 1);
      // One pass over the pins, only where a count crosses 0, 1 or 2:
      //   ca == 2: the other pin on a becomes the last there (its pos +1);
      //   cb == 1: the pin alone on b no longer is (pos -1);
      //   ca == 1: a loses the edge (neg of every pin on a +1); cb == 0: b gains it (-1).
      const int up_a = ca == 2, down_b = cb == 1, lose_a = ca == 1, gain_b = cb == 0;
      if (!(up_a | down_b | lose_a | gain_b)) continue;
      for (int j = 0; j < hg_.k; ++j) {
        const int x = p[j];
        int* nx = neg_.data() + size_t(x) * N_;
        nx[a] += lose_a;
        nx[b] -= gain_b;
        if (x == e) continue;
        const int n = node_of_[x];
        pos_[x] += (n == a) * up_a - (n == b) * down_b;
      }
    }
    node_of_[e] = b;
    --size_[a], ++size_[b];
    nload_[a] -= load_[e], nload_[b] += load_[e];
  }

  // Exact gain of swapping e (node a) with each f on another node, minus the independent move
  // gains: an edge holding both keeps its node counts, so the sum of the two move gains
  // over-counts it by [count on a == 1] + [count on f's node == 1]. Fills corr[f] (>= 0).
  void swap_correction(int e, std::vector<int>& corr) const {
    std::fill(corr.begin(), corr.end(), 0);
    const int a = node_of_[e];
    for (int32_t i = hg_.inc_offset[e]; i < hg_.inc_offset[e + 1]; ++i) {
      const int h = hg_.inc[i];
      const uint16_t* p = hg_.edge(h);
      const uint16_t* c = cnt_.data() + size_t(h) * N_;
      for (int j = 0; j < hg_.k; ++j) {
        const int f = p[j];
        const int b = node_of_[f];
        if (b != a) corr[f] += (c[a] == 1) + (c[b] == 1);
      }
    }
  }

  // The same correction for one pair (e, f), f on another node than e, between
  // mark_edges(e) and unmark_edges(e): the edges of f that also hold e (with multiplicity).
  // Costs degree(f) instead of degree(e) x k, so it pays when few swaps need an exact gain.
  void mark_edges(int e) {
    for (int32_t i = hg_.inc_offset[e]; i < hg_.inc_offset[e + 1]; ++i) ++emark_[size_t(hg_.inc[i])];
  }
  void unmark_edges(int e) {
    for (int32_t i = hg_.inc_offset[e]; i < hg_.inc_offset[e + 1]; ++i) emark_[size_t(hg_.inc[i])] = 0;
  }
  int pair_correction(int e, int f) const {
    const int a = node_of_[e], b = node_of_[f];
    int corr = 0;
    for (int32_t i = hg_.inc_offset[f]; i < hg_.inc_offset[f + 1]; ++i) {
      const int h = hg_.inc[i];
      const int m = emark_[size_t(h)];
      if (m == 0) continue;
      const uint16_t* c = cnt_.data() + size_t(h) * N_;
      corr += m * ((c[a] == 1) + (c[b] == 1));
    }
    return corr;
  }

  const std::vector<int>& size() const { return size_; }
  const std::vector<double>& node_load() const { return nload_; }

 private:
  // Adds (sign +1) or removes (-1) edge h's terms of pos and neg for each of its pins.
  void edge_terms(int h, int sign) {
    const uint16_t* p = hg_.edge(h);
    const uint16_t* c = cnt_.data() + size_t(h) * N_;
    for (int j = 0; j < hg_.k; ++j) {
      const int x = p[j];
      pos_[x] += sign * (c[node_of_[x]] == 1);
      int* nx = neg_.data() + size_t(x) * N_;
      for (int n = 0; n < N_; ++n) nx[n] += sign * (c[n] == 0);
    }
  }

  const Hypergraph& hg_;
  const std::vector<double>& load_;
  int N_;
  std::vector<int>& node_of_;
  std::vector<uint16_t> cnt_;
  std::vector<int> emark_;  // [num_edges]: times the marked expert is a pin of each edge
  std::vector<int> pos_, neg_, size_;
  std::vector<double> nload_;
};

}  // namespace

int64_t refine_nodes(const Hypergraph& hg, const std::vector<double>& load, int N, const NodeRefineOptions& opt,
                     std::vector<int>& node_of) {
  const int E = hg.num_experts;
  if (N < 2 || hg.num_edges == 0) return 0;
  GRACE_CHECK(int(opt.min_size.size()) == N && int(opt.max_size.size()) == N, "refine_nodes: size bounds");
  Refiner r(hg, load, N, node_of);
  double total = 0;
  for (int e = 0; e < E; ++e) total += load[e];
  const double cap = total / N * (1 + opt.load_tol);
  // Loads after moving `delta` from a to b: acceptable if neither goes over the cap, or the
  // larger of the two goes down.
  auto load_ok = [&](int a, int b, double delta) {
    const auto& nl = r.node_load();
    const double na = nl[a] - delta, nb = nl[b] + delta;
    return std::max(na, nb) <= cap || std::max(na, nb) < std::max(nl[a], nl[b]) - 1e-9;
  };
  int64_t improved = 0;
  std::vector<int> corr(size_t(E), 0);
  struct Swap {
    int ub, f;
  };
  std::vector<Swap> swaps;
  for (int round = 0; round < opt.max_rounds; ++round) {
    int64_t round_gain = 0;
    for (int e = 0; e < E; ++e) {
      const int a = node_of[e];
      int best_b = -1, best_f = -1, best_g = 0;
      bool blocked = false;  // a move that would gain is not allowed (size or load)
      for (int b = 0; b < N; ++b) {
        if (b == a) continue;
        const int g = r.gain(e, b);
        if (g <= best_g) continue;
        if (r.size()[a] - 1 >= opt.min_size[a] && r.size()[b] + 1 <= opt.max_size[b] && load_ok(a, b, load[e]))
          best_b = b, best_g = g, best_f = -1;
        else
          blocked = true;
      }
      // Swaps, only where a gaining move was blocked (fixed sizes, load): the sum of the two
      // move gains bounds the swap's gain from above.
      // The swap taken is the one of largest exact gain above best_g, the lowest f among equals.
      // Exact gains are costly, so the allowed swaps whose bound beats best_g are tried in
      // decreasing bound order, stopping where no later one can win; their corrections come
      // pair by pair (the edges of f) until that has read as many pins as one pass over e's
      // edges for all f would, then from that pass. Same swap as trying every f in order.
      swaps.clear();
      for (int f = 0; blocked && f < E; ++f) {
        const int b = node_of[f];
        if (b == a) continue;
        const int ub = r.gain(e, b) + r.gain(f, a);
        if (ub > best_g && load_ok(a, b, load[e] - load[f])) swaps.push_back({ub, f});
      }
      if (!swaps.empty()) {
        std::sort(swaps.begin(), swaps.end(),
                  [](const Swap& x, const Swap& y) { return x.ub != y.ub ? x.ub > y.ub : x.f < y.f; });
        const int64_t full_cost = int64_t(hg.degree(e)) * hg.k;
        int64_t spent = 0;
        bool marked = false, full = false;
        for (const Swap& sw : swaps) {
          // Sorted by bound: past best_g no later swap can win; at best_g a swap can only tie,
          // and a tie goes to the lower f (a move's tie to the move).
          if (sw.ub < best_g) break;
          if (sw.ub == best_g && (best_f < 0 || sw.f > best_f)) continue;
          int corr_f;
          if (!full && spent + hg.degree(sw.f) > full_cost) {
            r.swap_correction(e, corr);
            full = true;
          }
          if (full) {
            corr_f = corr[size_t(sw.f)];
          } else {
            if (!marked) r.mark_edges(e), marked = true;
            corr_f = r.pair_correction(e, sw.f);
            spent += hg.degree(sw.f);
          }
          const int g = sw.ub - corr_f;
          if (g > best_g || (g == best_g && best_f >= 0 && sw.f < best_f))
            best_b = node_of[sw.f], best_g = g, best_f = sw.f;
        }
        if (marked) r.unmark_edges(e);
      }
      if (best_b < 0) continue;
      r.move(e, best_b);
      if (best_f >= 0) r.move(best_f, a);
      round_gain += best_g;
    }
    improved += round_gain;
    if (round_gain == 0) break;
  }
  return improved;
}

namespace {

// rebalance_nodes' steps until the heaviest node is under every cap in `caps`. The steps do not
// depend on the cap, only where they stop: for each cap, at[i] gets node_of where a run with
// that cap alone stops, and steps_at[i] its steps. Returns the steps made.
int rebalance_run(const Hypergraph& hg, const std::vector<double>& load, int N, const NodeRefineOptions& opt,
                  const std::vector<double>& caps, std::vector<int>& node_of, std::vector<std::vector<int>>& at,
                  std::vector<int>& steps_at) {
  const int E = int(load.size());
  Refiner r(hg, load, N, node_of);
  at.assign(caps.size(), {});
  steps_at.assign(caps.size(), -1);
  size_t open = caps.size();
  struct Cand {
    int e, b, f;
    double reduction, score;
  };
  std::vector<Cand> cands;
  std::vector<int> on_a, on_light;  // experts on the heaviest and on the lightest node, in order
  int steps = 0;
  auto stop = [&](size_t i) {
    at[i] = node_of;
    steps_at[i] = steps;
    --open;
  };
  for (; steps < 4 * E; ++steps) {
    const auto& nl = r.node_load();
    const int a = int(std::max_element(nl.begin(), nl.end()) - nl.begin());
    for (size_t i = 0; i < caps.size(); ++i)
      if (steps_at[i] < 0 && nl[a] <= caps[i]) stop(i);
    if (open == 0) break;
    // Moves off a (alone, or as a swap with a lighter expert) that lower a's load, scored by
    // (connectivity lost + 1) / load taken off a; the best few by the swaps' upper-bound gain
    // are checked with exact gains.
    cands.clear();
    auto consider = [&](int e, int b, int f, double d, int g) {
      const double red = nl[a] - std::max(nl[a] - d, nl[b] + d);
      if (red > 1e-9) cands.push_back({e, b, f, red, (std::max(0, -g) + 1) / red});
    };
    // Swaps go to the lightest node only (the cheap half of the search).
    const int light = int(std::min_element(nl.begin(), nl.end()) - nl.begin());
    on_a.clear(), on_light.clear();
    for (int e = 0; e < E; ++e) {
      if (node_of[e] == a) on_a.push_back(e);
      if (node_of[e] == light) on_light.push_back(e);
    }
    const bool a_can_shrink = r.size()[a] - 1 >= opt.min_size[a];
    for (int e : on_a) {
      for (int b = 0; b < N; ++b)
        if (b != a && a_can_shrink && r.size()[b] + 1 <= opt.max_size[b]) consider(e, b, -1, load[e], r.gain(e, b));
      const int ge = r.gain(e, light);
      for (int f : on_light)
        if (load[f] < load[e]) consider(e, light, f, load[e] - load[f], ge + r.gain(f, a));
    }
    if (cands.empty()) break;
    const size_t check = std::min<size_t>(cands.size(), 8);
    std::partial_sort(cands.begin(), cands.begin() + check, cands.end(),
                      [](const Cand& x, const Cand& y) { return x.score < y.score; });
    int best = 0;
    double best_score = 0;
    for (size_t i = 0; i < check; ++i) {
      Cand& c = cands[i];
      if (c.f >= 0) {
        r.mark_edges(c.e);
        const int g = r.gain(c.e, c.b) + r.gain(c.f, a) - r.pair_correction(c.e, c.f);
        r.unmark_edges(c.e);
        c.score = (std::max(0, -g) + 1) / c.reduction;
      }
      if (i == 0 || c.score < best_score) best = int(i), best_score = c.score;
    }
    const Cand& c = cands[size_t(best)];
    r.move(c.e, c.b);
    if (c.f >= 0) r.move(c.f, a);
  }
  for (size_t i = 0; i < caps.size(); ++i)
    if (steps_at[i] < 0) stop(i);
  return steps;
}

}  // namespace

int rebalance_nodes(const Hypergraph& hg, const std::vector<double>& load, int N, const NodeRefineOptions& opt,
                    std::vector<int>& node_of) {
  if (N < 2) return 0;
  double total = 0;
  for (double v : load) total += v;
  std::vector<std::vector<int>> at;
  std::vector<int> steps_at;
  return rebalance_run(hg, load, N, opt, {total / N * (1 + opt.load_tol)}, node_of, at, steps_at);
}

std::vector<std::vector<int>> rebalance_nodes_each(const Hypergraph& hg, const std::vector<double>& load, int N,
                                                   const NodeRefineOptions& opt, const std::vector<double>& tols,
                                                   std::vector<int> node_of) {
  if (N < 2) return std::vector<std::vector<int>>(tols.size(), node_of);
  double total = 0;
  for (double v : load) total += v;
  std::vector<double> caps;
  for (double tol : tols) caps.push_back(total / N * (1 + tol));
  std::vector<std::vector<int>> at;
  std::vector<int> steps_at;
  rebalance_run(hg, load, N, opt, caps, node_of, at, steps_at);
  return at;
}

}  // namespace grace::plan
