// planner_matrix: plans each row's (planner, replica budget) on one part of a trace, replays the
// other part through the row's router and comm scheme, and prints cross-node traffic, GPU load
// max/mean, simulated MoE-layer time and expert memory per row. The measurement behind the
// planner's results table (scripts/planner-matrix.sh runs it over every case).
//
//   planner_matrix --model M --topology T --trace F... [--plan-trace F...] [--batch-tokens B]
//                  [--seed S] ROW...
//   ROW = planner/router/comm[/redundant]    e.g. grace/cover/hierarchical/0
// Without --plan-trace, even-indexed sequences plan and odd-indexed ones are evaluated.
// Output: one tab-separated line per row (header first).
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/simulate.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#include "experiment/trace_split.h"

using namespace grace;

int main(int argc, char** argv) {
  try {
    std::string model_name = "deepseek-v2-lite", topo_name = "2x4";
    std::vector<std::string> traces, plan_traces, rows;
    int64_t batch = 4096;
    uint64_t seed = 0;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto next = [&]() -> std::string {
        GRACE_INPUT_CHECK(i + 1 < argc, "{} needs a value", a);
        return argv[++i];
      };
      if (a == "--model") model_name = next();
      else if (a == "--topology") topo_name = next();
      else if (a == "--trace") traces.push_back(next());
      else if (a == "--plan-trace") plan_traces.push_back(next());
      else if (a == "--batch-tokens") batch = std::stoll(next());
      else if (a == "--seed") seed = std::stoull(next());
      else rows.push_back(a);
    }
    ModelSpec model = load_model(model_name);
    Topology topo = parse_topology(topo_name);
    Trace all = read_trace(traces, model.experts);
    all.num_experts = model.experts;
    Trace plan_trace, eval_trace;
    if (plan_traces.empty()) {
      TraceSplit sp = split_even_odd(all);
      plan_trace = std::move(sp.plan), eval_trace = std::move(sp.eval);
    } else {
      plan_trace = read_trace(plan_traces, model.experts);
      eval_trace = std::move(all);
    }
    plan_trace.num_experts = eval_trace.num_experts = model.experts;
    Profile profile = build_profile(plan_trace);
    std::printf("row\tinter_MB\tload_max_mean\tlayer_us\tinstances_per_gpu\textra_mem_pct\tplan_s\n");
    for (const auto& row : rows) {
      std::vector<std::string> f;
      size_t st = 0;
      for (size_t p; (p = row.find('/', st)) != std::string::npos; st = p + 1) f.push_back(row.substr(st, p - st));
      f.push_back(row.substr(st));
      GRACE_INPUT_CHECK(f.size() == 3 || f.size() == 4, "row '{}': want planner/router/comm[/redundant]", row);
      PlanOptions po;
      po.seed = seed;
      if (f.size() == 4) po.redundant_slots = std::stoi(f[3]);
      auto t0 = std::chrono::steady_clock::now();
      Placement p = make_planner(f[0])->plan(PlanContext{profile, model, topo, po});
      double plan_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EvalOptions eo;
      eo.batch_tokens = batch;
      eo.comm = parse_comm_scheme(f[2]);
      eo.router = f[1];
      eo.seed = seed;
      EvalResult e = evaluate(eval_trace, p, topo, model, eo);
      SimResult s = simulate(e, topo, model);
      double nb = double(std::max<int64_t>(1, e.num_batches));
      double inter_mb = double(e.total.inter_copies) * double(e.token_bytes) / nb / 1e6;
      double lmm = e.total.samples ? e.total.load_max_mean_sum / double(e.total.samples) : 0;
      double inst = 0, extra = 0;
      for (int l = 0; l < p.num_layers; ++l) {
        int mx = 0;
        for (const auto& g : p.gpu_slots(l)) mx = std::max(mx, int(g.size()));
        inst += double(mx) / p.num_layers;
        extra += (double(p.num_instances(l)) / p.num_experts - 1) * 100 / p.num_layers;
      }
      double node_mm = 0;
      int64_t nrec = 0;
      for (const auto& rec : e.records) {
        std::vector<double> nl(size_t(topo.nodes), 0.0);
        double sum = 0;
        for (int g = 0; g < topo.num_gpus(); ++g) nl[size_t(g / topo.gpus_per_node)] += double(rec.gpu_pairs[g]), sum += double(rec.gpu_pairs[g]);
        if (sum <= 0) continue;
        node_mm += *std::max_element(nl.begin(), nl.end()) / (sum / topo.nodes);
        ++nrec;
      }
      node_mm = nrec ? node_mm / double(nrec) : 0;
      std::printf("%s\t%.2f\t%.3f\t%.1f\t%.2f\t%.1f\t%.3f\tnode_mm=%.3f comp=%.0f disp=%.0f\n", row.c_str(), inter_mb, lmm,
                  s.mean_layer.total_us, inst, extra, plan_s, node_mm, s.mean_layer.compute_us, s.mean_layer.dispatch_us);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "planner_matrix: error: %s\n", ex.what());
    return 2;
  }
}
