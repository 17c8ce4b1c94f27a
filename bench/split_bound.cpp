// split_bound: how far below uniform-affinity's node split any equal-size node split can go on
// the traffic it is judged on (a study for the planner issue's zero-redundancy target, not a
// result). At zero redundancy, with hierarchical communication, the cross-node bytes of a
// placement depend only on which node holds each expert: a token from node s visits each other
// node holding one of its experts once, so with sources spread evenly over the nodes the bytes
// are proportional to the sum over tokens of lambda (the number of nodes its experts sit on).
//
// For each MoE layer this finds the equal-size split of lowest lambda it can on the EVALUATED
// traffic itself (foresight: every evaluated token is a hyperedge, no sample): local searches
// (refine_nodes: moves and swaps, node sizes fixed, no load limit) from uniform-affinity's split,
// grace's zero-redundancy split and R random splits, then K kicks of the best (kick_refine_nodes:
// swap P random pairs of experts between nodes, search again, keep if lower). It prints, per layer and in
// all, sum lambda of uniform-affinity's split (planned on the planning traffic, as the baseline
// is), of grace's (the same), and of the best split found, each over uniform-affinity's.
//
//   split_bound --model M --topology NxG --trace F... [--plan-trace F...] [--restarts R]
//               [--kicks K] [--perturb P] [--seed S] [--search-on-plan]
//
// --search-on-plan runs the same search on the planning traffic instead (what a planner without
// foresight could do with a longer search); the "bytes" line is always on the evaluated traffic,
// the per-layer lambda lines on the traffic searched.
//
// Without --plan-trace, even-indexed sequences of the --trace plan and odd-indexed ones are
// evaluated (planner_matrix's even/odd split).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/model.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#include "plan/hypergraph.h"
#include "experiment/trace_split.h"
#include "plan/node_refine.h"

namespace {

using namespace grace;

// The token ranges of `t` as one trace (their sequences kept).
Trace copy_ranges(const Trace& t, const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  Trace out;
  out.num_layers = t.num_layers, out.top_k = t.top_k, out.num_experts = t.num_experts;
  out.seq_offsets = {0};
  const int64_t row = int64_t(t.num_layers) * t.top_k;
  for (const auto& [b, e] : ranges) {
    out.ids.insert(out.ids.end(), t.ids.begin() + b * row, t.ids.begin() + e * row);
    out.seq_offsets.push_back(out.seq_offsets.back() + (e - b));
  }
  return out;
}

// A zero-redundancy placement holding expert e on node split[l][e] (GPUs filled in order).
Placement placement_of(const std::vector<std::vector<int>>& split, const Topology& t, int E) {
  Placement p;
  p.num_layers = int(split.size()), p.num_experts = E;
  p.nodes = t.nodes, p.gpus_per_node = t.gpus_per_node;
  p.slots_per_gpu = E / (t.nodes * t.gpus_per_node) + 1;
  for (const auto& s : split) {
    LayerPlacement lp;
    lp.experts.resize(size_t(E));
    std::vector<int> used(size_t(t.nodes), 0);
    for (int e = 0; e < E; ++e) {
      const int n = s[size_t(e)];
      lp.experts[size_t(e)].instances.push_back(Instance{t.gpu_at(n, used[size_t(n)]++ % t.gpus_per_node), 1.0});
    }
    p.layers.push_back(std::move(lp));
  }
  return p;
}

// Cross-node dispatch copies per layer of `p` replayed on `tr` (primary router, hierarchical,
// trace-order batches of 4,096 tokens: the matrix's evaluation).
std::vector<int64_t> inter_copies(const Trace& tr, const Placement& p, const Topology& t, const ModelSpec& m) {
  EvalOptions eo;
  eo.router = "primary";
  eo.comm = CommScheme::kHierarchical;
  eo.keep_records = false;
  const EvalResult r = evaluate(tr, p, t, m, eo);
  std::vector<int64_t> c;
  for (const auto& x : r.per_layer) c.push_back(x.inter_copies);
  return c;
}

std::vector<int> nodes_of(const Placement& p, int layer) {
  std::vector<int> n;
  for (const auto& ep : p.layers[size_t(layer)].experts) n.push_back(ep.primary_gpu() / p.gpus_per_node);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string model_name, topo_spec;
    std::vector<std::string> traces, plan_traces;
    int restarts = 32, kicks = 200, perturb = 3;
    bool search_on_plan = false;
    uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        GRACE_INPUT_CHECK(i + 1 < argc, "{} needs a value", a);
        return argv[++i];
      };
      if (a == "--model") model_name = next();
      else if (a == "--topology") topo_spec = next();
      else if (a == "--trace") traces.push_back(next());
      else if (a == "--plan-trace") plan_traces.push_back(next());
      else if (a == "--restarts") restarts = std::stoi(next());
      else if (a == "--kicks") kicks = std::stoi(next());
      else if (a == "--perturb") perturb = std::stoi(next());
      else if (a == "--seed") seed = std::stoull(next());
      else if (a == "--search-on-plan") search_on_plan = true;
      else GRACE_INPUT_CHECK(false, "unknown argument '{}'", a);
    }
    GRACE_INPUT_CHECK(!model_name.empty() && !topo_spec.empty() && !traces.empty(),
                      "usage: split_bound --model M --topology NxG --trace F... [--plan-trace F...]");
    const ModelSpec model = load_model(model_name);
    const Topology topo = parse_topology(topo_spec);
    const int N = topo.nodes, E = model.experts, L = model.moe_layers;
    GRACE_INPUT_CHECK(N >= 2 && E % N == 0, "need 2 nodes or more and experts divisible by nodes");
    Trace plan, eval;
    if (plan_traces.empty()) {
      const Trace all = read_trace(traces, E);
      const TraceSplit split = split_even_odd(all.seq_offsets, "--trace");
      plan = copy_ranges(all, split.plan), eval = copy_ranges(all, split.eval);
    } else {
      plan = read_trace(plan_traces, E), eval = read_trace(traces, E);
    }
    const Profile plan_prof = build_profile(plan);
    // The traffic the search sees: the evaluated traffic (foresight), or with --search-on-plan the
    // planning traffic (what a planner has), every token a hyperedge either way.
    const Trace& seen = search_on_plan ? plan : eval;
    Profile eval_prof(seen.num_layers, E, seen.top_k);
    eval_prof.sample.capacity = seen.num_tokens();
    eval_prof.add(seen);

    PlanOptions po;
    po.redundant_slots = 0;
    po.seed = seed;
    const Placement ua = make_planner("uniform-affinity")->plan({plan_prof, model, topo, po});
    const Placement gr = make_planner("grace")->plan({plan_prof, model, topo, po});

    plan::NodeRefineOptions ro;
    ro.min_size.assign(size_t(N), E / N);
    ro.max_size.assign(size_t(N), E / N);
    ro.load_tol = 1e18;
    ro.max_rounds = 50;
    std::mt19937_64 rng(seed);
    std::printf("layer\tUA lambda\tgrace/0 vs UA\tbest found vs UA\n");
    double sum_ua = 0, sum_gr = 0, sum_best = 0;
    std::vector<std::vector<int>> best_splits;
    for (int l = 0; l < L; ++l) {
      const plan::Hypergraph hg = plan::layer_hypergraph(eval_prof, l);
      const std::vector<double> load(size_t(E), 1.0);  // unused: no load limit
      auto lambda = [&](const std::vector<int>& s) { return double(plan::connectivity(hg, s, N)); };
      auto search = [&](std::vector<int> s) {
        plan::refine_nodes(hg, load, N, ro, s);
        return s;
      };
      const std::vector<int> ua_split = nodes_of(ua, l), gr_split = nodes_of(gr, l);
      std::vector<std::vector<int>> starts{ua_split, gr_split};
      for (int r = 0; r < restarts; ++r) {
        std::vector<int> s(static_cast<size_t>(E));
        for (int e = 0; e < E; ++e) s[size_t(e)] = e % N;
        std::shuffle(s.begin(), s.end(), rng);
        starts.push_back(s);
      }
      std::vector<int> best;
      double best_v = 0;
      for (auto& s : starts) {
        auto r = search(s);
        const double v = lambda(r);
        if (best.empty() || v < best_v) best = r, best_v = v;
      }
      // The kicks of the planner's node search (kick_refine_nodes), with no load limit.
      plan::kick_refine_nodes(hg, load, N, ro, kicks, perturb, seed * 1000003u + uint64_t(l), best);
      best_v = lambda(best);
      best_splits.push_back(best);
      const double v_ua = lambda(ua_split), v_gr = lambda(gr_split);
      sum_ua += v_ua, sum_gr += v_gr, sum_best += best_v;
      std::printf("%d\t%.0f\t%.4f\t%.4f\n", l, v_ua, v_gr / v_ua, best_v / v_ua);
      std::fflush(stdout);
    }
    // Bytes with sources spread evenly: sum over tokens of lambda x (N - 1) / N, so the ratios
    // of sum lambda are the ratios of cross-node bytes.
    std::printf("all\t%.0f\t%.4f\t%.4f\n", sum_ua, sum_gr / sum_ua, sum_best / sum_ua);
    // The same, as the evaluator counts it: cross-node copies with the trace's own sources.
    auto total = [](const std::vector<int64_t>& v) { return double(std::accumulate(v.begin(), v.end(), int64_t(0))); };
    const double c_ua = total(inter_copies(eval, ua, topo, model));
    const double c_gr = total(inter_copies(eval, gr, topo, model));
    const double c_best = total(inter_copies(eval, placement_of(best_splits, topo, E), topo, model));
    std::printf("bytes\t%.0f\t%.4f\t%.4f\n", c_ua, c_gr / c_ua, c_best / c_ua);
    return 0;
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "split_bound: error: %s\n", ex.what());
    return 2;
  }
}
