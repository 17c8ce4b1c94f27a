// grace run: the distributed MoE engine (grace/engine/engine.h). Start it with
// `mpirun -np <GPUs of --topology> grace run ...`; every rank plays one GPU. Backends
// (grace/engine/backend.h): --backend cpu (F32 host activations, MPI) and --backend cuda
// (GPU-resident, NCCL; builds with -DGRACE_CUDA=ON). Without MPI (a CUDA-only build, or ranks
// started in network namespaces) `--rendezvous DIR` starts the ranks over NCCL: rank and size
// from OMPI_COMM_WORLD_RANK/SIZE or GRACE_RANK/GRACE_SIZE, the GPU from
// OMPI_COMM_WORLD_LOCAL_RANK or GRACE_LOCAL_RANK (modulo the visible GPUs).
//
// Set-up errors (bad flags, files, a placement for another model or topology, a world size that
// does not match the topology) are agreed on by all ranks: the lowest failing rank (rank 0 when
// all fail alike) prints the message, every rank exits non-zero, nobody waits forever. So are
// errors while a rank loads its experts' weights (engine::LoadFailure). An error during the run
// aborts the whole job (MPI_Abort).
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

#include "batching_option.h"
#include "checked_placement.h"
#include "commands.h"
#include "core/cost_limits.h"
#include "grace/error.h"
#include "router_option.h"

#ifdef GRACE_HAVE_ENGINE
#include "grace/engine/backend.h"
#include "grace/engine/compute.h"
#include "grace/engine/engine.h"
#include "grace/engine/weights.h"
#include "grace/model.h"
#include "grace/placement_io.h"
#include "grace/router.h"
#include "grace/serving.h"
#include "grace/synth.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#endif
#ifdef GRACE_HAVE_MPI
#include "grace/engine/mpi.h"
#endif
#ifdef GRACE_HAVE_CUDA
#include "grace/cuda/device.h"
#include "grace/cuda/gpu_backend.h"
#include "grace/cuda/nccl_comm.h"
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
  std::string batching = "trace";
  int layers = 0;
  int64_t max_batches = 0;
  int64_t synth_tokens = 8192;
  std::string weights = "random:0";
  int64_t hidden = 0, intermediate = 0;
  uint64_t seed = 0;
  bool no_phase_barrier = false;
  bool json = false;
  double timeout_s = 300;
  std::string backend = "cpu";
  std::string routing = "trace";
  std::string rendezvous;
  int64_t check = 0;
  int warmup = 0;
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
  // The one placement loader (checked_placement.h), as evaluate, simulate and validate: the JSON
  // reader's checks, the cost limits, and the placement validated against model and topology.
  CheckedPlacement checked = load_checked_placement(a.placement, a.model, a.topology);
  s.placement = std::move(checked.placement);
  s.model = std::move(checked.model);
  s.topo = std::move(checked.topo);
  // The engine runs the placement's own model, not only one of the same shape.
  GRACE_INPUT_CHECK(s.placement.model.empty() || s.placement.model == s.model.name,
                    "placement {} was made for model {}, not --model {}", quote_input(a.placement),
                    quote_input(s.placement.model), quote_input(s.model.name));
  // SGLang's routers send tokens to the copies filling the spare slots too (serving.h): the
  // ranks serve (load, hash, route over) that layout, as the evaluator counts it.
  if (router_routes_served_layout(a.router)) s.placement = served_placement(s.placement);
  if (a.hidden != 0) s.model.hidden = a.hidden;
  if (a.intermediate != 0) s.model.moe_intermediate = a.intermediate;
  GRACE_INPUT_CHECK(s.model.hidden > 0 && s.model.moe_intermediate > 0,
                    "--hidden/--intermediate must be positive (got {} and {})", s.model.hidden,
                    s.model.moe_intermediate);
  // The model's own limits hold for the overrides too, and a rank's expert weights must fit.
  GRACE_INPUT_CHECK(s.model.hidden <= (1 << 20), "--hidden {} is over the limit of {}", s.model.hidden, 1 << 20);
  GRACE_INPUT_CHECK(s.model.moe_intermediate <= (1 << 22), "--intermediate {} is over the limit of {}",
                    s.model.moe_intermediate, 1 << 22);
  check_memory("run: one rank's expert weights",
               {{"slots per GPU", s.placement.slots_per_gpu},
                {"MoE layers", a.layers > 0 ? int64_t(a.layers) : int64_t(s.placement.num_layers)},
                {"3 x hidden x intermediate", 3 * int64_t(s.model.hidden) * s.model.moe_intermediate}},
               4);
  s.opt.comm = parse_comm_scheme(a.comm);
  GRACE_INPUT_CHECK(a.routing == "trace" || a.routing == "gate", "--routing must be trace or gate (got '{}')",
                    a.routing);
  s.opt.gate_routing = a.routing == "gate";
  s.opt.bf16_activations = a.backend == "cuda";
  GRACE_INPUT_CHECK(a.check >= 0 && a.warmup >= 0, "--check and --warmup must be >= 0");
  s.opt.keep_outputs = a.check > 0;
  s.opt.check_tokens = a.check;
  s.opt.warmup_batches = a.warmup;
  s.opt.batch_tokens = a.batch_tokens;
  s.opt.batching = parse_batching(a.batching);
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
                    "the world has {} rank{} but --topology {} has {} GPUs (run with mpirun -np {})", world_size,
                    world_size == 1 ? "" : "s", a.topology, s.topo.num_gpus(), s.topo.num_gpus());
  if (a.traces.empty()) {
    GRACE_INPUT_CHECK(a.synth_tokens > 0, "--synth-tokens {}: the synthetic trace needs at least one token",
                      a.synth_tokens);
    SynthOptions so;
    so.tokens = a.synth_tokens;
    so.seed = a.seed + 1;
    s.trace = synthesize_trace(s.model, so);
  } else {
    s.trace = read_trace(a.traces, s.model.experts, /*with_weights=*/true);
    // The trace must come from the model it runs (as plan and evaluate require).
    GRACE_INPUT_CHECK(s.trace.top_k == s.model.top_k && s.trace.num_layers == s.model.moe_layers,
                      "the trace has {} MoE layers of top-{} routing but model {} has {} layers of top-{}",
                      s.trace.num_layers, s.trace.top_k, quote_input(s.model.name), s.model.moe_layers, s.model.top_k);
  }
  s.router = make_router(a.router, s.placement, s.topo, a.seed);
  s.weights = engine::make_weight_source(a.weights, s.model.hidden, s.model.moe_intermediate, s.model.dense_layers);
}

#ifdef GRACE_HAVE_CUDA
int env_first(std::initializer_list<const char*> names, int fallback) {
  for (const char* n : names)
    if (const char* v = std::getenv(n); v && *v) return std::atoi(v);
  return fallback;
}
#endif

// The world the ranks run in: MPI (mpirun), or NCCL through a rendezvous folder.
struct World {
#ifdef GRACE_HAVE_MPI
  std::unique_ptr<engine::MpiSession> mpi;
#endif
  std::unique_ptr<engine::Comm> nccl;
  engine::Comm* comm = nullptr;
  int device = 0;
  // A flag error found before the MPI world exists; raised by every rank once the ranks can agree
  // on it (run_run), so that one rank prints it.
  std::string flag_error;
  void finish() {  // MPI_Finalize (or NCCL teardown) before leaving without unwinding into main
    nccl.reset();
#ifdef GRACE_HAVE_MPI
    mpi.reset();
#endif
  }
};

void open_world(const RunArgs& a, World& w) {
  if (a.backend != "cpu" && a.backend != "cuda")
    w.flag_error = fmt::format("--backend must be cpu or cuda (got {})", quote_input(a.backend));
#ifndef GRACE_HAVE_CUDA
  else if (a.backend == "cuda")
    w.flag_error =
        "--backend cuda: this grace was built without CUDA (configure with -DGRACE_CUDA=ON on a machine with the "
        "CUDA toolkit and NCCL)";
  GRACE_INPUT_CHECK(a.rendezvous.empty(), "--rendezvous starts ranks over NCCL: this grace was built without CUDA");
#else
  const int ndev = cuda::device_count();
  GRACE_INPUT_CHECK(a.rendezvous.empty() || ndev > 0, "--rendezvous: no CUDA GPU is visible on this machine");
  if (a.backend == "cuda" && ndev <= 0 && w.flag_error.empty())
    w.flag_error = "--backend cuda: no CUDA GPU is visible on this machine";
  w.device = env_first({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "GRACE_LOCAL_RANK"}, 0) % std::max(ndev, 1);
  if (!a.rendezvous.empty()) {
    const int rank = env_first({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "GRACE_RANK"}, 0);
    const int size = env_first({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "GRACE_SIZE"}, 1);
    GRACE_INPUT_CHECK(rank >= 0 && rank < size, "--rendezvous: rank {} outside [0, {}) (GRACE_RANK/GRACE_SIZE)", rank,
                      size);
    w.nccl = cuda::make_nccl_comm(cuda::rendezvous_nccl_id(a.rendezvous, rank, "world"), rank, size, w.device);
    w.comm = w.nccl.get();
    return;
  }
#endif
#ifdef GRACE_HAVE_MPI
  w.mpi = std::make_unique<engine::MpiSession>(nullptr, nullptr);
  w.comm = &w.mpi->world();
#else
  fail_input("this grace was built without MPI: start the ranks with --rendezvous DIR (GRACE_RANK, GRACE_SIZE)");
#endif
}

void run_run(const RunArgs& a) {
  World wld;
  open_world(a, wld);  // errors here are the same on every rank; flag errors wait for the world (flag_error)
  engine::Comm& world = *wld.comm;
  const int me = world.rank();
  Setup s;
  std::unique_ptr<engine::ComputeBackend> compute;
  std::unique_ptr<engine::MoeBackend> backend;
  engine::EngineInputs in;
  int code = 0;
  std::string msg;
  auto fail = [&](const std::exception& e) {
    code = dynamic_cast<const InputError*>(&e) ? 2 : 1;
    msg = code == 2 ? e.what() : std::string("internal error: ") + e.what();
  };
  try {
    GRACE_INPUT_CHECK(wld.flag_error.empty(), "{}", wld.flag_error);
    build_setup(a, world.size(), s);
    in = engine::EngineInputs{&s.trace, &s.placement, &s.topo, s.model, s.router.get(), s.weights.get()};
    engine::check_engine_inputs(in, s.opt, world.size());
  } catch (const std::exception& e) {
    fail(e);
  }
  // Every rank learns whether all are ready; the lowest failing rank reports, all exit alike.
  auto leave_if_failed = [&] {
    const engine::SetupVerdict v = engine::agree_on_setup(world, code);
    if (v.code == 0) return;
    if (me == v.reporter)
      std::fprintf(stderr, "grace: error: %s%s\n", v.reporter == 0 ? "" : fmt::format("rank {}: ", me).c_str(),
                   one_line(msg).c_str());
    std::fflush(stderr);
    world.barrier();
    wld.finish();
    std::exit(v.code);
  };
  leave_if_failed();
  try {  // the backend (collective: the CPU backend splits the node comm, cuda creates NCCL comms)
    if (a.backend == "cuda") {
#ifdef GRACE_HAVE_CUDA
      backend = cuda::make_cuda_backend(world, in, s.opt, wld.device, a.seed);
#endif
    } else {
      compute = engine::make_cpu_compute();
      backend = engine::make_cpu_backend(world, *compute, in, s.opt);
    }
  } catch (const std::exception& e) {
    fail(e);
  }
  leave_if_failed();
  engine::EngineResult r;
  try {
    r = engine::run_engine(world, *backend, in, s.opt);
  } catch (const engine::StartupMismatch& e) {
    // Every rank threw the same message before anything was exchanged: refuse to start.
    if (me == 0) std::fprintf(stderr, "grace: error: %s\n", e.what());
    std::fflush(stderr);
    world.barrier();
    backend.reset();
    wld.finish();
    std::exit(2);
  } catch (const engine::LoadFailure& e) {
    // Agreed by every rank after loading: the lowest failing rank reports, all exit alike.
    if (me == e.reporter) std::fprintf(stderr, "grace: error: rank %d: %s\n", me, one_line(e.what()).c_str());
    std::fflush(stderr);
    world.barrier();
    backend.reset();
    wld.finish();
    std::exit(e.code);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grace: error: rank %d: %s (aborting the job)\n", me, e.what());
    std::fflush(stderr);
    world.abort(dynamic_cast<const InputError*>(&e) ? 2 : 1);
  }
  if (a.check > 0) engine::check_outputs(world, in, s.opt, a.check, a.backend == "cuda" ? 2e-2 : 1e-5, r);
  if (me == 0) {
    if (a.json) {
      std::printf("%s\n", engine::engine_json(r).c_str());
    } else {
      std::printf("placement %s (%s), model %s, topology %s\n", a.placement.c_str(), s.placement.policy.c_str(),
                  s.model.name.c_str(), a.topology.c_str());
      std::printf("%s", engine::format_engine(r).c_str());
    }
    std::fflush(stdout);
  }
  if (!r.check_ok) {
    if (me == 0)
      std::fprintf(stderr, "grace: error: output check: max|diff|/max|ref| = %.3g over %lld tokens exceeds %.0e\n",
                   r.check_rel_err, (long long)r.checked_tokens, r.check_tolerance);
    std::fflush(stderr);
    world.barrier();
    backend.reset();
    wld.finish();
    std::exit(1);
  }
  backend.reset();
}
#endif

}  // namespace

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run",
                                 "Run the distributed MoE engine (mpirun -np <GPUs> grace run ...; "
                                 "--backend cpu|cuda)");
  cmd->add_option("--model", a->model, "Model preset or JSON")->capture_default_str();
  cmd->add_option("--topology", a->topology,
                  "Topology (nodes x GPUs per node, preset or JSON); "
                  "the MPI world size must equal its GPU count")
      ->capture_default_str();
  cmd->add_option("--placement", a->placement, "Placement JSON (grace plan -o)")->required();
  cmd->add_option(
      "--trace", a->traces,
      "Routing trace: ids .npy[.gz] file, folder or synthetic:MODEL[:TOKENS[:SEED]] (repeat to concatenate). "
      "Default: a synthetic trace of --synth-tokens tokens");
  cmd->add_option("--synth-tokens", a->synth_tokens, "Tokens of the synthetic trace")->capture_default_str();
  cmd->add_option("--router", a->router, router_option_help())->capture_default_str();
  cmd->add_option("--comm", a->comm, "Communication: flat | hierarchical")->capture_default_str();
  cmd->add_option("--batch-tokens", a->batch_tokens, "Tokens per batch (over all ranks)")->capture_default_str();
  cmd->add_option("--batching", a->batching, kBatchingHelp)->capture_default_str();
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
  cmd->add_option("--backend", a->backend,
                  "Engine backend: cpu (F32 host activations) | cuda (GPU-resident, "
                  "NCCL; routes primary and tar on the GPU, every other router on the host; needs a "
                  "build with -DGRACE_CUDA=ON)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--routing", a->routing,
                  "trace: top-k and gate weights from the trace | gate: computed per "
                  "layer from the hidden states (gate GEMM, softmax, group-limited top-k)")
      ->capture_default_str();
  cmd->add_option("--rendezvous", a->rendezvous,
                  "Start without MPI: ranks share a folder for the NCCL id "
                  "(GRACE_RANK/GRACE_SIZE/GRACE_LOCAL_RANK or OMPI_* set per process; CUDA builds)");
  cmd->add_option("--check", a->check,
                  "Compare the final hidden states of this many tokens per rank with the "
                  "single-process reference (F32 1e-5 on cpu, 2e-2 on cuda); exit 1 when off")
      ->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "Untimed runs of the first batch before the timed ones")
      ->capture_default_str();
  cmd->add_option("--timeout", a->timeout_s,
                  "Abort the job when a rank makes no progress for this many "
                  "seconds (hang detection; 0: off)")
      ->capture_default_str();
#ifdef GRACE_HAVE_ENGINE
  cmd->callback([a] { run_run(*a); });
#else
  cmd->callback([] { fail_input("'grace run' needs the engine: configure with -DGRACE_MPI=ON (or -DGRACE_CUDA=ON)"); });
#endif
}

}  // namespace grace::cli
