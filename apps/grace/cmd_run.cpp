// grace run: the distributed MoE engine over MPI (grace/engine/engine.h). Start it with
// `mpirun -np <GPUs of --topology> grace run ...`; every rank plays one GPU.
//
// Set-up errors (bad flags, files, a placement for another model or topology, a world size that
// does not match the topology) are agreed on by all ranks: the lowest failing rank (rank 0 when
// all fail alike) prints the message, every rank exits non-zero, nobody waits forever. An error
// during the run aborts the whole job (MPI_Abort).
// Fault injection for tests: GRACE_ENGINE_FAIL_RANK=r [GRACE_ENGINE_FAIL_LAYER=l] makes rank r
// exit abnormally at layer l of the first batch; GRACE_ENGINE_HANG_RANK=r [GRACE_ENGINE_HANG_LAYER=l]
// makes rank r sleep forever before the dispatch collectives of layer l of the first batch.
// Start-up agreement: after set-up, the ranks compare hashes of the placement and of the rest of
// the configuration and refuse to start (exit 2 on every rank) when they differ.
// Hang detection: --timeout S (default 300, 0 = off) aborts the job when a rank makes no progress
// for S seconds.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "router_option.h"
#include "grace/error.h"

#ifdef GRACE_HAVE_ENGINE
#include "grace/engine/compute.h"
#include "grace/engine/engine.h"
#include "grace/engine/mpi.h"
#include "grace/engine/weights.h"
#include "grace/model.h"
#include "grace/placement_io.h"
#include "grace/router.h"
#include "grace/synth.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#endif

namespace grace::cli {
namespace {

struct RunArgs {
  std::string model = "deepseek-v2-lite";
  std::string topology = "2x4";
  std::string placement;
  std::vector<std::string> traces;
  std::string router = "tar";
  std::string comm = "hierarchical";
  int64_t batch_tokens = 4096;
  int layers = 0;
  int64_t max_batches = 0;
  int64_t synth_tokens = 8192;
  std::string weights = "random:0";
  int64_t hidden = 0, intermediate = 0;
  uint64_t seed = 0;
  bool no_phase_barrier = false;
  bool json = false;
  double timeout_s = 300;
};

#ifdef GRACE_HAVE_ENGINE
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

struct Setup {
  ModelSpec model;
  Topology topo;
  Placement placement;
  Trace trace;
  std::unique_ptr<Router> router;
  std::unique_ptr<engine::WeightSource> weights;
  engine::EngineOptions opt;
};

void build_setup(const RunArgs& a, int world_size, Setup& s) {
  check_router_name(a.router, "--router");
  s.model = load_model(a.model);
  if (a.hidden != 0) s.model.hidden = a.hidden;
  if (a.intermediate != 0) s.model.moe_intermediate = a.intermediate;
  GRACE_INPUT_CHECK(s.model.hidden > 0 && s.model.moe_intermediate > 0,
                    "--hidden/--intermediate must be positive (got {} and {})", s.model.hidden,
                    s.model.moe_intermediate);
  s.topo = parse_topology(a.topology);
  GRACE_INPUT_CHECK(a.comm == "flat" || a.comm == "hierarchical",
                    "--comm must be flat or hierarchical (got '{}')", a.comm);
  s.opt.comm = a.comm == "flat" ? CommScheme::kFlat : CommScheme::kHierarchical;
  s.opt.batch_tokens = a.batch_tokens;
  s.opt.num_layers = a.layers;
  s.opt.max_batches = a.max_batches;
  s.opt.seed = a.seed;
  s.opt.phase_barrier = !a.no_phase_barrier;
  s.opt.fail_rank = env_int("GRACE_ENGINE_FAIL_RANK", -1);
  s.opt.fail_layer = env_int("GRACE_ENGINE_FAIL_LAYER", 0);
  s.opt.hang_rank = env_int("GRACE_ENGINE_HANG_RANK", -1);
  s.opt.hang_layer = env_int("GRACE_ENGINE_HANG_LAYER", 0);
  GRACE_INPUT_CHECK(a.timeout_s >= 0, "--timeout must be >= 0 seconds (got {})", a.timeout_s);
  s.opt.timeout_s = a.timeout_s;
  GRACE_INPUT_CHECK(world_size == s.topo.num_gpus(),
                    "the MPI world has {} ranks but --topology {} has {} GPUs (run with mpirun -np {})",
                    world_size, a.topology, s.topo.num_gpus(), s.topo.num_gpus());
  s.placement = load_placement(a.placement);
  // Placement against model and topology before reading the trace (clearer first error).
  GRACE_INPUT_CHECK(s.placement.model.empty() || s.placement.model == s.model.name,
                    "--placement {} was made for model '{}', not --model '{}'", a.placement,
                    s.placement.model, s.model.name);
  GRACE_INPUT_CHECK(s.placement.nodes == s.topo.nodes && s.placement.gpus_per_node == s.topo.gpus_per_node,
                    "--placement {} was made for a {}x{} topology, not --topology {}", a.placement,
                    s.placement.nodes, s.placement.gpus_per_node, a.topology);
  if (a.traces.empty()) {
    SynthOptions so;
    so.tokens = a.synth_tokens;
    so.seed = a.seed + 1;
    s.trace = synthesize_trace(s.model, so);
  } else {
    s.trace = read_trace(a.traces, s.model.experts, /*with_weights=*/true);
  }
  s.router = make_router(a.router, s.placement, s.topo, a.seed);
  s.weights = engine::make_weight_source(a.weights, s.model.hidden, s.model.moe_intermediate,
                                         s.model.dense_layers);
}

void run_run(const RunArgs& a) {
  auto session = std::make_unique<engine::MpiSession>(nullptr, nullptr);
  engine::Comm& world = session->world();
  const int me = world.rank();
  Setup s;
  engine::ConfigHashes hashes;
  int code = 0;
  std::string msg;
  try {
    build_setup(a, world.size(), s);
    engine::EngineInputs in{&s.trace, &s.placement, &s.topo, s.model, s.router.get(), s.weights.get()};
    engine::check_engine_inputs(in, s.opt, world.size());
    hashes = engine::engine_config_hashes(in, s.opt);
  } catch (const InputError& e) {
    code = 2;
    msg = e.what();
  } catch (const std::exception& e) {
    code = 1;
    msg = std::string("internal error: ") + e.what();
  }
  // Agree on set-up failure: the worst code, and the lowest failing rank reports.
  int64_t agree[2] = {code, code ? int64_t(world.size() - me) : 0};
  world.allreduce_max(agree, 2);
  if (agree[0] != 0) {
    const int reporter = int(world.size() - agree[1]);
    if (me == reporter) {
      std::fprintf(stderr, "grace: error: %s%s\n",
                   reporter == 0 ? "" : fmt::format("rank {}: ", me).c_str(), msg.c_str());
    }
    std::fflush(stderr);
    world.barrier();
    session.reset();  // MPI_Finalize on every rank, then leave without unwinding into main
    std::exit(int(agree[0]));
  }
  // Every rank must run the same placement and configuration (e.g. an MPMD launch, or files that
  // differ between hosts): refuse to start, rank 0 names the ranks that differ.
  const std::string mismatch = engine::check_same_config(world, hashes);
  if (!mismatch.empty()) {
    if (me == 0) std::fprintf(stderr, "grace: error: %s\n", mismatch.c_str());
    std::fflush(stderr);
    world.barrier();
    session.reset();
    std::exit(2);
  }
  engine::EngineResult r;
  try {
    auto compute = engine::make_cpu_compute();
    engine::EngineInputs in{&s.trace, &s.placement, &s.topo, s.model, s.router.get(), s.weights.get()};
    r = engine::run_engine(world, *compute, in, s.opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grace: error: rank %d: %s (aborting the job)\n", me, e.what());
    std::fflush(stderr);
    world.abort(dynamic_cast<const InputError*>(&e) ? 2 : 1);
  }
  if (me == 0) {
    if (a.json) {
      std::printf("%s\n", engine::engine_json(r).c_str());
    } else {
      std::printf("placement %s (%s), model %s, topology %s\n", a.placement.c_str(),
                  s.placement.policy.c_str(), s.model.name.c_str(), a.topology.c_str());
      std::printf("%s", engine::format_engine(r).c_str());
    }
    std::fflush(stdout);
  }
}
#endif

}  // namespace

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Run the distributed MoE engine over MPI (mpirun -np <GPUs> grace run ...)");
  cmd->add_option("--model", a->model, "Model preset or JSON")->capture_default_str();
  cmd->add_option("--topology", a->topology, "Topology (nodes x GPUs per node, preset or JSON); "
                  "the MPI world size must equal its GPU count")->capture_default_str();
  cmd->add_option("--placement", a->placement, "Placement JSON (grace plan -o)")->required();
  cmd->add_option("--trace", a->traces, "Routing trace (ids file or directory); repeat to concatenate. "
                  "Default: a synthetic trace of --synth-tokens tokens");
  cmd->add_option("--synth-tokens", a->synth_tokens, "Tokens of the synthetic trace")->capture_default_str();
  cmd->add_option("--router", a->router, router_option_help())
      ->capture_default_str();
  cmd->add_option("--comm", a->comm, "Communication: flat | hierarchical")->capture_default_str();
  cmd->add_option("--batch-tokens", a->batch_tokens, "Tokens per batch (over all ranks)")->capture_default_str();
  cmd->add_option("--layers", a->layers, "MoE layers to run (0: all of the placement's)")->capture_default_str();
  cmd->add_option("--max-batches", a->max_batches, "Batches to run (0: the whole trace)")->capture_default_str();
  cmd->add_option("--weights", a->weights, "Expert weights: random:SEED, a .safetensors file or a directory")
      ->capture_default_str();
  cmd->add_option("--hidden", a->hidden, "Override the model's hidden size (0: the model's)");
  cmd->add_option("--intermediate", a->intermediate, "Override the expert intermediate size (0: the model's)");
  cmd->add_option("--seed", a->seed, "Seed of the hidden states and the router")->capture_default_str();
  cmd->add_flag("--no-phase-barrier", a->no_phase_barrier,
                "Do not synchronise ranks before each phase (phase times then include waiting)");
  cmd->add_flag("--json", a->json, "Print one JSON object instead of the table");
  cmd->add_option("--timeout", a->timeout_s, "Abort the job when a rank makes no progress for this many "
                  "seconds (hang detection; 0: off)")->capture_default_str();
#ifdef GRACE_HAVE_ENGINE
  cmd->callback([a] { run_run(*a); });
#else
  cmd->callback([] { fail_input("'grace run' needs the MPI engine: configure with -DGRACE_MPI=ON"); });
#endif
}

}  // namespace grace::cli
