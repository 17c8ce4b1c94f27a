// The grace planner's node search and gain replicas against plain reference implementations:
// the same decision rules (node_refine.h, replica_gain.h) with every gain recounted from scratch
// on the hypergraph, no incremental counts, no pruning. The fast versions keep gains
// incrementally, prune swaps by their upper bound and compute swap corrections pair by pair;
// they must make exactly the same moves, swaps and copies.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "plan/hypergraph.h"
#include "plan/node_refine.h"
#include "plan/node_sets.h"
#include "plan/replica_gain.h"
#include "plan/replica_load.h"

namespace grace::plan {
namespace {

// A random hypergraph: H edges of k distinct experts out of E, some experts hotter.
Hypergraph random_hg(std::mt19937& rng, int E, int k, int H) {
  Profile p(1, E, k);
  for (int h = 0; h < H; ++h) {
    std::vector<int> pins;
    while (int(pins.size()) < k) {
      // Skewed: half the draws from the first quarter of the experts.
      const int e = int(rng() % 2 ? rng() % std::max(1, E / 4) : rng() % E);
      if (std::find(pins.begin(), pins.end(), e) == pins.end()) pins.push_back(e);
    }
    p.sample.token.push_back(h);
    p.sample.hash.push_back(0);
    for (int e : pins) p.sample.ids.push_back(expert_t(e));
  }
  p.tokens = H;
  return layer_hypergraph(p, 0);
}

int64_t conn(const Hypergraph& hg, const std::vector<int>& node_of, int N) { return connectivity(hg, node_of, N); }

// Connectivity saved by moving e to b.
int move_gain(const Hypergraph& hg, std::vector<int> node_of, int N, int e, int b) {
  const int64_t before = conn(hg, node_of, N);
  node_of[size_t(e)] = b;
  return int(before - conn(hg, node_of, N));
}

// Connectivity saved by swapping the nodes of e and f.
int swap_gain(const Hypergraph& hg, std::vector<int> node_of, int N, int e, int f) {
  const int64_t before = conn(hg, node_of, N);
  std::swap(node_of[size_t(e)], node_of[size_t(f)]);
  return int(before - conn(hg, node_of, N));
}

std::vector<double> node_loads(const std::vector<int>& node_of, const std::vector<double>& load, int N) {
  std::vector<double> nl(size_t(N), 0.0);
  for (size_t e = 0; e < node_of.size(); ++e) nl[size_t(node_of[e])] += load[e];
  return nl;
}

std::vector<int> node_sizes(const std::vector<int>& node_of, int N) {
  std::vector<int> sz(size_t(N), 0);
  for (int n : node_of) ++sz[size_t(n)];
  return sz;
}

// Loads that follow the hypergraph: each expert's degree + 1.
std::vector<double> degree_loads(const Hypergraph& hg) {
  std::vector<double> load(static_cast<size_t>(hg.num_experts));
  for (int e = 0; e < hg.num_experts; ++e) load[size_t(e)] = hg.degree(e) + 1.0;
  return load;
}

// A random home node per expert.
std::vector<int> random_nodes(std::mt19937& rng, int E, int N) {
  std::vector<int> node_of(static_cast<size_t>(E));
  for (int e = 0; e < E; ++e) node_of[size_t(e)] = int(rng() % uint32_t(N));
  return node_of;
}

// refine_nodes' rule: experts in order; the best allowed move, else (when a gaining move was
// blocked and some swap's bound beats it) the best allowed swap, lowest f among equals.
int64_t reference_refine(const Hypergraph& hg, const std::vector<double>& load, int N, const NodeRefineOptions& opt,
                         std::vector<int>& node_of) {
  const int E = hg.num_experts;
  double total = 0;
  for (double v : load) total += v;
  const double cap = total / N * (1 + opt.load_tol);
  int64_t improved = 0;
  for (int round = 0; round < opt.max_rounds; ++round) {
    int64_t round_gain = 0;
    for (int e = 0; e < E; ++e) {
      const auto nl = node_loads(node_of, load, N);
      const auto sz = node_sizes(node_of, N);
      auto load_ok = [&](int a, int b, double delta) {
        const double na = nl[size_t(a)] - delta, nb = nl[size_t(b)] + delta;
        return std::max(na, nb) <= cap || std::max(na, nb) < std::max(nl[size_t(a)], nl[size_t(b)]) - 1e-9;
      };
      const int a = node_of[size_t(e)];
      int best_b = -1, best_f = -1, best_g = 0;
      bool blocked = false;
      for (int b = 0; b < N; ++b) {
        if (b == a) continue;
        const int g = move_gain(hg, node_of, N, e, b);
        if (g <= best_g) continue;
        if (sz[size_t(a)] - 1 >= opt.min_size[size_t(a)] && sz[size_t(b)] + 1 <= opt.max_size[size_t(b)] &&
            load_ok(a, b, load[size_t(e)]))
          best_b = b, best_g = g;
        else
          blocked = true;
      }
      bool any = false;
      for (int f = 0; blocked && f < E && !any; ++f)
        any = node_of[size_t(f)] != a &&
              move_gain(hg, node_of, N, e, node_of[size_t(f)]) + move_gain(hg, node_of, N, f, a) > best_g;
      for (int f = 0; any && f < E; ++f) {
        const int b = node_of[size_t(f)];
        if (b == a) continue;
        const int g = swap_gain(hg, node_of, N, e, f);
        if (g > best_g && load_ok(a, b, load[size_t(e)] - load[size_t(f)])) best_b = b, best_g = g, best_f = f;
      }
      if (best_b < 0) continue;
      if (best_f >= 0) node_of[size_t(best_f)] = a;
      node_of[size_t(e)] = best_b;
      round_gain += best_g;
    }
    improved += round_gain;
    if (round_gain == 0) break;
  }
  return improved;
}

// rebalance_nodes' rule: off the heaviest node, moves and swaps with the lightest node ranked by
// (loss + 1) / load taken off, swaps by their bound; the best 8 rescored exactly.
int reference_rebalance(const Hypergraph& hg, const std::vector<double>& load, int N, const NodeRefineOptions& opt,
                        std::vector<int>& node_of) {
  const int E = int(load.size());
  double total = 0;
  for (double v : load) total += v;
  const double cap = total / N * (1 + opt.load_tol);
  struct Cand {
    int e, b, f;
    double reduction, score;
  };
  int steps = 0;
  for (; steps < 4 * E; ++steps) {
    const auto nl = node_loads(node_of, load, N);
    const auto sz = node_sizes(node_of, N);
    const int a = int(std::max_element(nl.begin(), nl.end()) - nl.begin());
    if (nl[size_t(a)] <= cap) break;
    std::vector<Cand> cands;
    auto consider = [&](int e, int b, int f, double d, int g) {
      const double red = nl[size_t(a)] - std::max(nl[size_t(a)] - d, nl[size_t(b)] + d);
      if (red > 1e-9) cands.push_back({e, b, f, red, (std::max(0, -g) + 1) / red});
    };
    const int light = int(std::min_element(nl.begin(), nl.end()) - nl.begin());
    for (int e = 0; e < E; ++e) {
      if (node_of[size_t(e)] != a) continue;
      for (int b = 0; b < N; ++b)
        if (b != a && sz[size_t(a)] - 1 >= opt.min_size[size_t(a)] && sz[size_t(b)] + 1 <= opt.max_size[size_t(b)])
          consider(e, b, -1, load[size_t(e)], move_gain(hg, node_of, N, e, b));
      for (int f = 0; f < E; ++f)
        if (node_of[size_t(f)] == light && load[size_t(f)] < load[size_t(e)])
          consider(e, light, f, load[size_t(e)] - load[size_t(f)],
                   move_gain(hg, node_of, N, e, light) + move_gain(hg, node_of, N, f, a));
    }
    if (cands.empty()) break;
    const size_t check = std::min<size_t>(cands.size(), 8);
    std::partial_sort(cands.begin(), cands.begin() + check, cands.end(),
                      [](const Cand& x, const Cand& y) { return x.score < y.score; });
    int best = 0;
    double best_score = 0;
    for (size_t i = 0; i < check; ++i) {
      Cand& c = cands[i];
      if (c.f >= 0) c.score = (std::max(0, -swap_gain(hg, node_of, N, c.e, c.f)) + 1) / c.reduction;
      if (i == 0 || c.score < best_score) best = int(i), best_score = c.score;
    }
    const Cand& c = cands[size_t(best)];
    if (c.f >= 0) node_of[size_t(c.f)] = a;
    node_of[size_t(c.e)] = c.b;
  }
  return steps;
}

NodeRefineOptions bounds(int E, int N, int spare, double tol) {
  NodeRefineOptions o;
  for (int n = 0; n < N; ++n) {
    const int even = E / N + (n < E % N);
    o.min_size.push_back(std::max(1, even - spare));
    o.max_size.push_back(even + spare);
  }
  o.load_tol = tol;
  return o;
}

struct Case {
  int E, k, N, H, spare;
  double tol;
};

// Sizes from fixed (spare 0: only swaps) to loose, tight and loose load limits.
const Case kCases[] = {{12, 3, 3, 80, 0, 0.05},  {16, 4, 4, 120, 1, 0.10}, {24, 4, 4, 200, 2, 0.50},
                       {20, 6, 5, 150, 0, 0.10}, {32, 8, 8, 300, 1, 0.10}, {16, 2, 2, 100, 3, 0.02}};

TEST(NodeSearchReference, RefineMakesTheReferenceMovesAndSwaps) {
  int swaps_seen = 0;
  for (const Case& c : kCases)
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      std::mt19937 rng(seed * 7919 + uint32_t(c.E));
      Hypergraph hg = random_hg(rng, c.E, c.k, c.H);
      const std::vector<double> load = degree_loads(hg);
      std::vector<int> start(size_t(c.E));
      for (int e = 0; e < c.E; ++e) start[size_t(e)] = e % c.N;
      const NodeRefineOptions opt = bounds(c.E, c.N, c.spare, c.tol);
      std::vector<int> fast = start, ref = start;
      const int64_t g_fast = refine_nodes(hg, load, c.N, opt, fast);
      const int64_t g_ref = reference_refine(hg, load, c.N, opt, ref);
      EXPECT_EQ(fast, ref) << "E " << c.E << " N " << c.N << " seed " << seed;
      EXPECT_EQ(g_fast, g_ref) << "E " << c.E << " N " << c.N << " seed " << seed;
      if (c.spare == 0 && g_ref > 0) ++swaps_seen;  // fixed sizes: every gain came from swaps
    }
  EXPECT_GT(swaps_seen, 3);  // the swap path was exercised
}

TEST(NodeSearchReference, RebalanceMakesTheReferenceSteps) {
  int steps_seen = 0;
  for (const Case& c : kCases)
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      std::mt19937 rng(seed * 104729 + uint32_t(c.E));
      Hypergraph hg = random_hg(rng, c.E, c.k, c.H);
      const std::vector<double> load = degree_loads(hg);
      // Hot experts together: node 0 far over the limit.
      std::vector<int> start(size_t(c.E));
      for (int e = 0; e < c.E; ++e) start[size_t(e)] = e * c.N / c.E;
      const NodeRefineOptions opt = bounds(c.E, c.N, c.spare, c.tol);
      std::vector<int> fast = start, ref = start;
      const int s_fast = rebalance_nodes(hg, load, c.N, opt, fast);
      const int s_ref = reference_rebalance(hg, load, c.N, opt, ref);
      EXPECT_EQ(fast, ref) << "E " << c.E << " N " << c.N << " seed " << seed;
      EXPECT_EQ(s_fast, s_ref) << "E " << c.E << " N " << c.N << " seed " << seed;
      steps_seen += s_ref;
    }
  EXPECT_GT(steps_seen, 50);
}

TEST(NodeSearchReference, RebalanceForSeveralLimitsEqualsOneRunPerLimit) {
  int differ = 0;  // cases where the limits give different splits (the shared run stops twice)
  for (const Case& c : kCases)
    for (uint32_t seed = 1; seed <= 6; ++seed) {
      std::mt19937 rng(seed * 104729 + uint32_t(c.E));
      Hypergraph hg = random_hg(rng, c.E, c.k, c.H);
      const std::vector<double> load = degree_loads(hg);
      std::vector<int> start(size_t(c.E));
      for (int e = 0; e < c.E; ++e) start[size_t(e)] = e * c.N / c.E;
      const std::vector<double> tols = {0.02, 0.5, 0.1, 3.0};  // any order, one never binding
      NodeRefineOptions opt = bounds(c.E, c.N, c.spare, 0.0);
      const auto each = rebalance_nodes_each(hg, load, c.N, opt, tols, start);
      ASSERT_EQ(each.size(), tols.size());
      for (size_t i = 0; i < tols.size(); ++i) {
        opt.load_tol = tols[i];
        std::vector<int> one = start;
        rebalance_nodes(hg, load, c.N, opt, one);
        EXPECT_EQ(each[i], one) << "E " << c.E << " N " << c.N << " seed " << seed << " tol " << tols[i];
      }
      differ += each[0] != each[1];
    }
  EXPECT_GT(differ, 5);
}

// add_gain_replicas' rule: each copy to the (node with a free slot, expert it lacks) of largest
// saving, nodes then experts in order on ties, the saving recounted from scratch: the edges of e
// whose only missing pin homed on e's home node, seen from that node, is e.
int reference_gain_replicas(const Hypergraph& hg, std::vector<int> free_slots, NodeSets& s) {
  const int E = hg.num_experts, N = s.nodes;
  int added = 0;
  for (;;) {
    int best_e = -1, best_n = -1, best_g = 0;
    for (int n = 0; n < N; ++n) {
      if (free_slots[size_t(n)] <= 0) continue;
      for (int e = 0; e < E; ++e) {
        if (s.copies[size_t(e)][size_t(n)]) continue;
        int g = 0;
        for (int32_t i = hg.inc_offset[size_t(e)]; i < hg.inc_offset[size_t(e) + 1]; ++i) {
          const uint16_t* p = hg.edge(hg.inc[size_t(i)]);
          int missing_same_home = 0;
          for (int j = 0; j < hg.k; ++j)
            missing_same_home += s.primary_node[p[j]] == s.primary_node[size_t(e)] && !s.copies[p[j]][size_t(n)];
          g += missing_same_home == 1;
        }
        if (g > best_g) best_g = g, best_e = e, best_n = n;
      }
    }
    if (best_e < 0) break;
    s.copies[size_t(best_e)][size_t(best_n)] = 1;
    --free_slots[size_t(best_n)];
    ++added;
  }
  return added;
}

TEST(NodeSearchReference, GainReplicasMakeTheReferenceCopies) {
  int copies_seen = 0;
  for (const Case& c : kCases)
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      std::mt19937 rng(seed * 31337 + uint32_t(c.E));
      Hypergraph hg = random_hg(rng, c.E, c.k, c.H);
      const std::vector<int> primary = random_nodes(rng, c.E, c.N);
      std::vector<int> free_slots(size_t(c.N));
      for (int n = 0; n < c.N; ++n) free_slots[size_t(n)] = 1 + int(rng() % 4);
      NodeSets fast(primary, c.N), ref(primary, c.N);
      const int a_fast = add_gain_replicas(hg, free_slots, fast);
      const int a_ref = reference_gain_replicas(hg, free_slots, ref);
      EXPECT_EQ(a_fast, a_ref) << "E " << c.E << " N " << c.N << " seed " << seed;
      EXPECT_EQ(fast.copies, ref.copies) << "E " << c.E << " N " << c.N << " seed " << seed;
      copies_seen += a_ref;
    }
  EXPECT_GT(copies_seen, 20);
}

// add_load_replicas' rule with every estimate recomputed from scratch: the expert of most load
// per hosting node that some node with room lacks, to the node of least estimated load.
int reference_load_replicas(const std::vector<double>& load, std::vector<int> free_slots, NodeSets& s) {
  const int E = int(load.size()), N = s.nodes;
  auto node_load = [&] {
    std::vector<double> out(size_t(N), 0.0);
    for (int e = 0; e < E; ++e) {
      const std::vector<double> r = instance_load_estimate(s, load, e, 0);
      for (int n = 0; n < N; ++n) out[size_t(n)] += r[size_t(n)] * s.copies[size_t(e)][size_t(n)];
    }
    return out;
  };
  std::vector<char> full(size_t(E), 0);
  int added = 0;
  for (;;) {
    int e = -1;
    for (int x = 0; x < E; ++x)
      if (!full[size_t(x)] && (e < 0 || load[size_t(x)] / s.hosting_nodes(x) > load[size_t(e)] / s.hosting_nodes(e)))
        e = x;
    if (e < 0) break;
    const std::vector<double> nl = node_load();
    int best = -1;
    for (int n = 0; n < N; ++n)
      if (free_slots[size_t(n)] > 0 && !s.copies[size_t(e)][size_t(n)] &&
          (best < 0 || nl[size_t(n)] < nl[size_t(best)]))
        best = n;
    if (best < 0) {
      full[size_t(e)] = 1;
      continue;
    }
    s.copies[size_t(e)][size_t(best)] = 1;
    --free_slots[size_t(best)];
    ++added;
  }
  return added;
}

TEST(NodeSearchReference, LoadReplicasMakeTheReferenceCopies) {
  int copies_seen = 0;
  for (const Case& c : kCases)
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      std::mt19937 rng(seed * 7877 + uint32_t(c.E));
      std::vector<double> load(size_t(c.E));
      for (int e = 0; e < c.E; ++e) load[size_t(e)] = double(1 + rng() % 100) / double(1 + rng() % 7);
      const std::vector<int> primary = random_nodes(rng, c.E, c.N);
      std::vector<int> free_slots(size_t(c.N));
      for (int n = 0; n < c.N; ++n) free_slots[size_t(n)] = int(rng() % 5);
      NodeSets fast(primary, c.N), ref(primary, c.N);
      const int a_fast = add_load_replicas(load, free_slots, fast);
      const int a_ref = reference_load_replicas(load, free_slots, ref);
      EXPECT_EQ(a_fast, a_ref) << "E " << c.E << " N " << c.N << " seed " << seed;
      EXPECT_EQ(fast.copies, ref.copies) << "E " << c.E << " N " << c.N << " seed " << seed;
      for (int e = 0; e < c.E; ++e)
        for (int n = 0; n < c.N; ++n)
          EXPECT_EQ(instance_load_at(fast, load, e, n), instance_load_estimate(fast, load, e, 0)[size_t(n)]);
      copies_seen += a_ref;
    }
  EXPECT_GT(copies_seen, 20);
}

}  // namespace
}  // namespace grace::plan
