// replan / count_moves / align_placement (grace/replan.h): the driver over layers. Every layer
// keeps its best change (replan_layer.h); the change with the largest gain per move over all
// layers is applied, that layer's best is recomputed, and layers whose best no longer fits the
// remaining budget are recomputed under it. Stops when nothing gains or fits.
#include "grace/replan.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>

#include "core/task_queue.h"
#include "grace/error.h"
#include "grace/planner.h"
#include "plan/hypergraph.h"
#include "plan/plan_util.h"
#include "plan/replan_layer.h"
#include "plan/tar_model.h"

namespace grace {
namespace {

using plan::Change;
using plan::LayerSearch;

// The permutation (perm[b] = a: p's group b becomes the reference's a) maximising the summed
// overlap ov[a][b]; exhaustive up to 8 groups, greedy above.
std::vector<int> best_permutation(const std::vector<std::vector<int64_t>>& ov) {
  const int n = int(ov.size());
  std::vector<int> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  if (n <= 8) {
    std::vector<int> best = perm, cur = perm;  // cur[b] = a
    int64_t best_v = -1;
    do {
      int64_t v = 0;
      for (int b = 0; b < n; ++b) v += ov[size_t(cur[size_t(b)])][size_t(b)];
      if (v > best_v) best_v = v, best = cur;
    } while (std::next_permutation(cur.begin(), cur.end()));
    return best;
  }
  std::vector<bool> used_a(static_cast<size_t>(n)), used_b(static_cast<size_t>(n));
  for (int step = 0; step < n; ++step) {
    int ba = -1, bb = -1;
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b)
        if (!used_a[size_t(a)] && !used_b[size_t(b)] &&
            (ba < 0 || ov[size_t(a)][size_t(b)] > ov[size_t(ba)][size_t(bb)]))
          ba = a, bb = b;
    used_a[size_t(ba)] = used_b[size_t(bb)] = true;
    perm[size_t(bb)] = ba;
  }
  return perm;
}

LayerPlacement align_layer(const LayerPlacement& ref, const LayerPlacement& p, int N, int Gn) {
  const int G = N * Gn;
  // count[e][gpu] for both.
  auto on = [&](const LayerPlacement& lp) {
    std::vector<std::vector<int>> c(lp.experts.size(), std::vector<int>(size_t(G), 0));
    for (size_t e = 0; e < lp.experts.size(); ++e)
      for (const auto& in : lp.experts[e].instances) c[e][size_t(in.gpu)] = 1;
    return c;
  };
  const auto r = on(ref), q = on(p);
  std::vector<std::vector<int64_t>> nov(size_t(N), std::vector<int64_t>(size_t(N), 0));
  for (size_t e = 0; e < r.size(); ++e)
    for (int a = 0; a < N; ++a)
      for (int b = 0; b < N; ++b) {
        int ca = 0, cb = 0;
        for (int j = 0; j < Gn; ++j) ca += r[e][size_t(a * Gn + j)], cb += q[e][size_t(b * Gn + j)];
        nov[size_t(a)][size_t(b)] += std::min(ca, cb);
      }
  const auto node_perm = best_permutation(nov);
  std::vector<int> gpu_map(static_cast<size_t>(G));
  for (int b = 0; b < N; ++b) {
    const int a = node_perm[size_t(b)];
    std::vector<std::vector<int64_t>> gov(size_t(Gn), std::vector<int64_t>(size_t(Gn), 0));
    for (size_t e = 0; e < r.size(); ++e)
      for (int x = 0; x < Gn; ++x)
        for (int y = 0; y < Gn; ++y) gov[size_t(x)][size_t(y)] += r[e][size_t(a * Gn + x)] & q[e][size_t(b * Gn + y)];
    const auto gp = best_permutation(gov);
    for (int y = 0; y < Gn; ++y) gpu_map[size_t(b * Gn + y)] = a * Gn + gp[size_t(y)];
  }
  LayerPlacement out = p;
  for (auto& ep : out.experts)
    for (auto& in : ep.instances) in.gpu = gpu_map[size_t(in.gpu)];
  return out;
}

}  // namespace

double move_break_even(const ModelSpec& model, double horizon_tokens) {
  if (!(horizon_tokens > 0)) return 0;
  return double(model.expert_bytes()) / (2.0 * double(model.token_bytes()) * horizon_tokens);
}

int64_t count_moves(const Placement& from, const Placement& to) {
  GRACE_CHECK(from.layers.size() == to.layers.size(), "count_moves: {} vs {} layers", from.layers.size(),
              to.layers.size());
  int64_t m = 0;
  for (size_t l = 0; l < to.layers.size(); ++l) {
    std::set<std::pair<int, int>> have;
    for (size_t e = 0; e < from.layers[l].experts.size(); ++e)
      for (const auto& in : from.layers[l].experts[e].instances) have.insert({int(e), in.gpu});
    for (size_t e = 0; e < to.layers[l].experts.size(); ++e)
      for (const auto& in : to.layers[l].experts[e].instances) m += !have.count({int(e), in.gpu});
  }
  return m;
}

Placement align_placement(const Placement& reference, const Placement& p, int nodes, int gpus_per_node) {
  GRACE_CHECK(reference.layers.size() == p.layers.size(), "align_placement: {} vs {} layers", reference.layers.size(),
              p.layers.size());
  Placement out = p;
  for (size_t l = 0; l < p.layers.size(); ++l)
    out.layers[l] = align_layer(reference.layers[l], p.layers[l], nodes, gpus_per_node);
  return out;
}

double predicted_node_visits(const Placement& p, const Profile& recent, int max_edges) {
  double v = 0;
  for (int l = 0; l < p.num_layers; ++l) {
    const plan::Hypergraph hg = plan::layer_hypergraph(recent, l, max_edges);
    if (hg.num_edges == 0) continue;
    LayerSearch ls(hg, plan::layer_load(recent.layers[size_t(l)]), p.layers[size_t(l)], p.nodes, p.gpus_per_node, {});
    v += double(ls.objective()) / (double(p.nodes) * hg.num_edges);
  }
  return v;
}

double predicted_load_max_mean(const Placement& p, const Profile& recent) {
  double s = 0;
  for (int l = 0; l < p.num_layers; ++l) {
    const auto g =
        plan::tar_gpu_load(p.layers[size_t(l)], plan::layer_load(recent.layers[size_t(l)]), p.nodes, p.gpus_per_node);
    const double mean = std::accumulate(g.begin(), g.end(), 0.0) / double(g.size());
    s += mean > 0 ? *std::max_element(g.begin(), g.end()) / mean : 1.0;
  }
  return p.num_layers > 0 ? s / p.num_layers : 1.0;
}

ReplanResult replan(const Placement& old, const Profile& recent, const ModelSpec& model, const Topology& topo,
                    const ReplanOptions& o) {
  const int L = old.num_layers, N = old.nodes, Gn = old.gpus_per_node;
  GRACE_CHECK(recent.num_layers == L && recent.num_experts == old.num_experts,
              "replan: profile has {} layers x {} experts, placement {} x {}", recent.num_layers, recent.num_experts, L,
              old.num_experts);
  GRACE_CHECK(recent.sample.size() > 0, "replan: the recent profile has no sampled tokens");
  GRACE_CHECK(topo.nodes == N && topo.gpus_per_node == Gn, "replan: topology {}x{} but placement {}x{}", topo.nodes,
              topo.gpus_per_node, N, Gn);
  ReplanResult res;
  const int64_t budget = o.max_moves < 0 ? std::numeric_limits<int64_t>::max() / 4 : o.max_moves;

  std::vector<plan::Hypergraph> hgs(static_cast<size_t>(L));
  std::vector<std::vector<double>> loads(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l) {
    hgs[size_t(l)] = plan::layer_hypergraph(recent, l, o.max_edges);
    loads[size_t(l)] = plan::layer_load(recent.layers[size_t(l)]);
  }
  plan::LayerLimits lim;
  lim.node_tol = o.node_load_tol;
  lim.gpu_tol = o.gpu_load_tol;
  std::vector<LayerSearch> ls;
  ls.reserve(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l) ls.emplace_back(hgs[size_t(l)], loads[size_t(l)], old.layers[size_t(l)], N, Gn, lim);

  if (o.full_plan_target) {
    Topology t = topo;
    t.slots_per_gpu = old.slots_per_gpu;
    PlanOptions po;
    po.seed = o.seed;
    po.threads = o.threads;
    PlanContext ctx{recent, model, t, po};
    res.full_plan = align_placement(old, make_planner("grace")->plan(ctx), N, Gn);
    res.full_plan_moves = count_moves(old, res.full_plan);
    for (int l = 0; l < L; ++l) ls[size_t(l)].set_target(res.full_plan.layers[size_t(l)]);
  }

  auto visits = [&](auto&& obj) {
    double v = 0;
    for (int l = 0; l < L; ++l)
      if (hgs[size_t(l)].num_edges > 0) v += double(obj(l)) / (double(N) * hgs[size_t(l)].num_edges);
    return v;
  };
  res.visits_before = visits([&](int l) { return ls[size_t(l)].objective(); });
  if (o.full_plan_target) res.visits_full = visits([&](int l) { return ls[size_t(l)].target_objective(); });

  // Initial best change of every layer (in parallel; each layer's search is independent).
  std::vector<Change> best(static_cast<size_t>(L));
  {
    TaskQueue q;
    for (int l = 0; l < L; ++l) q.push_back([&, l] { best[size_t(l)] = ls[size_t(l)].best_change(budget); });
    q.run(pool_threads(o.threads, L));
  }
  // Break-even: a change adding c > 0 moves must save >= c x min_visits_per_move visits per token
  // (its gain is in edge x source-node units: / (nodes x sampled edges) is visits per token).
  // A layer's best change has its largest gain per move, so when it fails, all of its do.
  auto pays = [&](int l, const Change& c) {
    if (o.min_visits_per_move <= 0 || c.cost <= 0) return true;
    const double v = double(c.gain) / (double(N) * double(std::max<int64_t>(hgs[size_t(l)].num_edges, 1)));
    return v >= o.min_visits_per_move * double(c.cost);
  };
  int64_t used = 0;
  while (true) {
    const int64_t left = budget - used;
    for (int l = 0; l < L; ++l)
      if (best[size_t(l)].kind != Change::kNone && best[size_t(l)].cost > left)
        best[size_t(l)] = ls[size_t(l)].best_change(left);
    int pick = -1;
    bool unpaid = false;
    for (int l = 0; l < L; ++l) {
      if (best[size_t(l)].kind == Change::kNone) continue;
      if (!pays(l, best[size_t(l)])) {
        unpaid = true;
        continue;
      }
      if (pick < 0 || best[size_t(l)].score() > best[size_t(pick)].score() + 1e-12) pick = l;
    }
    if (pick < 0) {
      res.stopped_at_break_even = unpaid;
      break;
    }
    auto& s = ls[size_t(pick)];
    const int64_t before = s.moves();
    s.apply(best[size_t(pick)]);
    used += s.moves() - before;
    GRACE_CHECK(used <= budget, "replan: budget exceeded ({} > {})", used, budget);
    best[size_t(pick)] = s.best_change(budget - used);
  }

  res.placement = old;
  for (int l = 0; l < L; ++l) {
    if (!ls[size_t(l)].changed()) continue;
    ++res.layers_changed;
    LayerPlacement lp;
    lp.experts.resize(ls[size_t(l)].instances().size());
    for (size_t e = 0; e < lp.experts.size(); ++e)
      for (int g : ls[size_t(l)].instances()[e]) lp.experts[e].instances.push_back(Instance{g, 1.0});
    plan::set_tar_weights(lp, loads[size_t(l)], N, Gn);
    // set_tar_weights floors every weight (> 0); when a floor binds the sum drifts from 1.
    for (auto& ep : lp.experts) {
      double sum = 0;
      for (const auto& in : ep.instances) sum += in.weight;
      for (auto& in : ep.instances) in.weight /= sum;
    }
    res.placement.layers[size_t(l)] = std::move(lp);
  }
  if (res.layers_changed > 0) res.placement.policy = "replan";
  res.moves = count_moves(old, res.placement);
  GRACE_CHECK(res.moves == used && res.moves <= budget, "replan: {} moves counted, {} tracked, budget {}", res.moves,
              used, budget);
  res.visits_after = visits([&](int l) { return ls[size_t(l)].objective(); });
  res.load_before = predicted_load_max_mean(old, recent);
  res.load_after = predicted_load_max_mean(res.placement, recent);
  if (o.full_plan_target) res.load_full = predicted_load_max_mean(res.full_plan, recent);
  validate_placement(res.placement, topo, model, "replan result");
  return res;
}

}  // namespace grace
