// engine_mpi_check: the multi-rank correctness check of the MPI engine (run under mpirun; not a
// gtest binary). For the world's topology (argv[1], e.g. "2x2") it runs the engine over a grid
// of placements (contiguous, EPLB-like, random uneven with replicas, and the real planners'
// contiguous / eplb / grace), comm schemes (flat, hierarchical) and routers, on small random
// traces including ranks with no tokens, a batch whose experts live on few ranks and balanced
// batches (every rank's share of its own tokens, grace/batching.h). For each
// run it checks, on every rank, that the final hidden state of each of its tokens equals the
// single-process reference (max |diff| / max |ref| <= 1e-5), that every token came out exactly
// once, and that the token copies the engine sent per tier equal the evaluator's counts.
// Exits 0 only if everything matched; prints one line per run on rank 0.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/safetensors.h"
#include "engine/test_inputs.h"
#include "grace/engine/compute.h"
#include "grace/engine/engine.h"
#include "grace/engine/mpi.h"
#include "grace/engine/weights.h"
#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/placement_io.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/router.h"
#include "grace/topology.h"
#include "grace/trace_io.h"

using namespace grace;
using namespace grace::engine;

namespace {

struct Case {
  std::string placement_kind, comm, router, scenario;
  int gate = 0;  // 0: trace routing; 1: gate routing; 2: gate routing, grouped top-k + normalised weights
};

Placement make_placement(const std::string& kind, const ModelSpec& m, const Topology& topo, const Trace& trace) {
  if (kind == "contiguous-hand") return testing::contiguous_placement(m, topo.nodes, topo.gpus_per_node);
  if (kind == "eplb-hand") return testing::eplb_like_placement(m, topo.nodes, topo.gpus_per_node);
  if (kind == "random-hand") return testing::random_placement(m, topo.nodes, topo.gpus_per_node, 7);
  // A real planner from the plan module on this trace's profile.
  Profile prof = build_profile(trace);
  PlanContext ctx{prof, m, topo, PlanOptions{}};
  Placement p = make_planner(kind)->plan(ctx);
  return p;
}

// Returns the number of failures (0 or 1) and prints one line on rank 0.
int run_case(Comm& world, const Topology& topo, const Case& c) {
  const int L = 3, E = 12, K = 3;
  const int64_t H = 24, I = 16;
  ModelSpec model = testing::make_model(L, E, K, H, I);
  if (c.gate == 2) {  // DeepSeek-style: 4 groups of 3 experts, the best 2 groups compete
    model.n_group = 4;
    model.topk_group = 2;
    model.norm_topk_prob = true;
  }
  Trace trace;
  EngineOptions opt;
  opt.gate_routing = c.gate > 0;
  opt.comm = c.comm == "flat" ? CommScheme::kFlat : CommScheme::kHierarchical;
  opt.keep_outputs = true;
  opt.seed = 11;
  if (c.scenario == "few-seqs") {  // 3 sequences: with 4+ ranks some ranks hold no tokens
    trace = testing::make_trace(L, E, K, 150, 50, 3);
    opt.batch_tokens = 64;
  } else if (c.scenario == "balanced") {  // balanced batches: every rank's share of its own tokens
    trace = testing::make_trace(L, E, K, 250, 40, 6);
    opt.batch_tokens = 64;
    opt.batching = Batching::kBalanced;
  } else if (c.scenario == "narrow-batch") {  // batch 0 only uses experts [0, 2K)
    trace = testing::make_trace(L, E, K, 200, 40, 4, /*restrict_first=*/64);
    opt.batch_tokens = 64;
  } else {
    trace = testing::make_trace(L, E, K, 240, 30, 5);
    opt.batch_tokens = 96;
  }
  Placement pl = make_placement(c.placement_kind, model, topo, trace);
  auto router = make_router(c.router, pl, topo, 3);
  auto weights = make_weight_source("random:5", H, I, model.dense_layers);
  EngineInputs in{&trace, &pl, &topo, model, router.get(), weights.get()};
  auto compute = make_cpu_compute();
  EngineResult r = run_engine(world, *compute, in, opt);

  // 1. Numbers: this rank's tokens against the reference.
  std::vector<float> ref = run_reference(in, opt, r.out_tokens);
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(ref[i] - r.out_hidden[i])));
    max_ref = std::max(max_ref, double(std::fabs(ref[i])));
  }
  double errs[2] = {max_diff, max_ref};
  world.allreduce_max(errs, 2);
  const double rel = errs[1] > 0 ? errs[0] / errs[1] : 0;
  // 2. Every token exactly once; ranks holding no tokens.
  int64_t counts[3] = {int64_t(r.out_tokens.size()), r.out_tokens.empty() ? 1 : 0, 0};
  for (size_t i = 1; i < r.out_tokens.size(); ++i) counts[2] += r.out_tokens[i] <= r.out_tokens[i - 1];
  world.allreduce_sum(counts, 3);
  // 3. Copies per tier against the evaluator.
  EvalOptions eo;
  eo.batch_tokens = opt.batch_tokens;
  eo.batching = opt.batching;
  eo.comm = opt.comm;
  eo.router = c.router;
  eo.seed = 3;
  eo.keep_records = false;
  EvalResult ev = evaluate(trace, pl, topo, model, eo);
  // (Gate routing picks other experts than the trace: only the symmetric and pair counts apply.)
  const bool copies_ok = (c.gate || (r.total.dispatch.inter_rows == ev.total.inter_copies &&
                                     r.total.dispatch.intra_rows == ev.total.intra_copies)) &&
                         r.total.combine.inter_rows == r.total.dispatch.inter_rows &&
                         r.total.combine.intra_rows == r.total.dispatch.intra_rows &&
                         r.total.pairs == (c.gate ? trace.num_tokens() * K * L : ev.total.pairs);
  const bool ok = rel <= 1e-5 && counts[0] == trace.num_tokens() && counts[2] == 0 && copies_ok;
  if (world.rank() == 0) {
    std::printf(
        "%s %-16s %-12s %-11s %-12s %-13s tokens %lld/%lld, empty ranks %lld, rel err %.2e, "
        "copies inter %lld (eval %lld) intra %lld (eval %lld), pairs %lld: %s\n",
        ok ? "ok  " : "FAIL", c.placement_kind.c_str(), c.comm.c_str(), c.router.c_str(), c.scenario.c_str(),
        c.gate == 0   ? "trace"
        : c.gate == 1 ? "gate"
                      : "gate-grouped",
        (long long)counts[0], (long long)trace.num_tokens(), (long long)counts[1], rel,
        (long long)r.total.dispatch.inter_rows, (long long)ev.total.inter_copies,
        (long long)r.total.dispatch.intra_rows, (long long)ev.total.intra_copies, (long long)r.total.pairs,
        ok ? "match" : "MISMATCH");
    std::fflush(stdout);
  }
  return ok ? 0 : 1;
}

// Files for the `grace run` CLI tests: two deepseek-v2-lite placements for 2x2 and one for 1x4,
// a small trace with the model's shape, and a safetensors file lacking most experts.
int write_fixtures(const std::string& dir) {
  std::filesystem::create_directories(dir);
  ModelSpec m = load_model("deepseek-v2-lite");
  save_placement(testing::contiguous_placement(m, 2, 2), dir + "/placement-2x2.json");
  // A second valid 2x2 placement (for the start-up agreement test: ranks given different ones).
  save_placement(testing::eplb_like_placement(m, 2, 2), dir + "/placement-2x2-b.json");
  save_placement(testing::eplb_like_placement(m, 1, 4), dir + "/placement-1x4.json");
  // Contiguous with a spare slot per GPU (16 experts in 17 slots): SGLang's routers serve it
  // with those slots filled.
  Placement spare = testing::contiguous_placement(m, 2, 2);
  spare.slots_per_gpu = 17;
  save_placement(spare, dir + "/placement-2x2-spare.json");
  write_trace(testing::make_trace(m.moe_layers, m.experts, m.top_k, 300, 60, 1), dir + "/trace", false);
  std::map<std::string, TensorToWrite> t;
  t[expert_tensor_name(1, 0, "gate_proj")] = {"BF16", {16, 32}, std::vector<float>(16 * 32, 0.01f)};
  write_safetensors(dir + "/partial.safetensors", t);
  // Every expert of MoE layers 0-1 (model layers 1-2) at --hidden 32 --intermediate 16, with one
  // NaN in layer 1's expert 40: only the rank that hosts expert 40 finds it, while loading.
  t.clear();
  for (int layer = 1; layer <= 2; ++layer)
    for (int e = 0; e < m.experts; ++e)
      for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
        std::vector<float> v(16 * 32, 0.01f);
        if (layer == 2 && e == 40 && std::string(proj) == "up_proj") v[7] = std::nanf("");
        const std::vector<int64_t> shape =
            std::string(proj) == "down_proj" ? std::vector<int64_t>{32, 16} : std::vector<int64_t>{16, 32};
        t[expert_tensor_name(layer, e, proj)] = {"F32", shape, v};
      }
  write_safetensors(dir + "/nan-one-expert.safetensors", t);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && std::string(argv[1]) == "write-fixtures") return write_fixtures(argv[2]);
  MpiSession session(&argc, &argv);
  Comm& world = session.world();
  const std::string shape = argc > 1 ? argv[1] : "1x1";
  const bool with_planners = argc > 2 && std::string(argv[2]) == "planners";
  int failures = 0;
  try {
    Topology topo = parse_topology(shape);
    if (world.size() != topo.num_gpus()) {
      if (world.rank() == 0)
        std::fprintf(stderr, "engine_mpi_check: world %d != topology %s\n", world.size(), shape.c_str());
      return 2;
    }
    std::vector<Case> cases;
    std::vector<std::string> kinds = {"contiguous-hand", "eplb-hand", "random-hand"};
    if (with_planners) kinds = {"contiguous", "eplb", "grace"};
    for (const auto& kind : kinds)
      for (const char* comm : {"flat", "hierarchical"})
        cases.push_back({kind, comm, kind.find("contiguous") == 0 ? "primary" : "tar", "plain"});
    cases.push_back({kinds[1], "flat", "round-robin", "plain"});
    cases.push_back({kinds[1], "hierarchical", "wrr", "plain"});
    cases.push_back({kinds[2], "hierarchical", "tar", "few-seqs"});
    cases.push_back({kinds[0], "hierarchical", "primary", "narrow-batch"});
    cases.push_back({kinds[2], "flat", "load-aware", "narrow-batch"});
    cases.push_back({kinds[1], "hierarchical", "tar", "balanced"});
    cases.push_back({kinds[2], "flat", "load-aware", "balanced"});
    // Gate routing: the router computed from the hidden states on every rank.
    cases.push_back({kinds[0], "flat", "primary", "plain", 1});
    cases.push_back({kinds[1], "hierarchical", "tar", "plain", 1});
    cases.push_back({kinds[2], "hierarchical", "load-aware", "few-seqs", 2});
    cases.push_back({kinds[1], "flat", "wrr", "plain", 2});
    cases.push_back({kinds[0], "hierarchical", "primary", "balanced", 1});
    for (const Case& c : cases) failures += run_case(world, topo, c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_mpi_check: rank %d: %s\n", world.rank(), e.what());
    world.abort(3);
  }
  if (world.rank() == 0) std::printf("%s: %d runs failed\n", shape.c_str(), failures);
  return failures == 0 ? 0 : 1;
}
