// grace simulate: replays a trace through a placement and a router (evaluate.h), then turns the
// per-batch counts into time with the cost model (simulate.h). Text report, or JSON with --json.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "batching_option.h"
#include "checked_placement.h"
#include "commands.h"
#include "core/cost_limits.h"
#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/router.h"
#include "grace/simulate.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#include "router_option.h"

namespace grace::cli {
namespace {

struct SimulateArgs {
  std::vector<std::string> traces;
  std::string placement;
  std::string topology;  // empty: the placement's shape with the paper constants
  std::string model;     // empty: the placement's model
  std::string router = "tar";
  std::string comm = "hierarchical";
  int64_t batch_tokens = 4096;
  std::string batching = "trace";
  uint64_t seed = 0;
  int max_chunks = 8;
  bool json = false;
};

void run_simulate(const SimulateArgs& a) {
  check_router_name(a.router, "--router");
  const CheckedPlacement checked = load_checked_placement(a.placement, a.model, a.topology);
  const Placement& p = checked.placement;
  const ModelSpec& model = checked.model;
  const Topology& topo = checked.topo;
  GRACE_INPUT_CHECK(a.batch_tokens > 0, "--batch-tokens must be positive (got {})", a.batch_tokens);
  GRACE_INPUT_CHECK(a.max_chunks >= 1, "--max-chunks must be >= 1 (got {})", a.max_chunks);
  EvalOptions opt;
  opt.batch_tokens = a.batch_tokens;
  opt.batching = parse_batching(a.batching);
  opt.comm = parse_comm_scheme(a.comm);
  opt.router = a.router;
  opt.seed = a.seed;
  opt.keep_records = true;
  // Streamed: memory is the per-(batch, layer) records the simulator needs, not the trace.
  TraceReader reader(a.traces, model.experts);
  GRACE_INPUT_CHECK(reader.shape().num_layers == p.num_layers, "--trace has {} MoE layers but placement {} has {}",
                    reader.shape().num_layers, quote_input(a.placement), p.num_layers);
  // The records, per (batch, layer) and GPU: 5 counters, a vector header and a count per slot.
  const int64_t tokens = reader.shape().tokens;
  const int64_t batches = max_batches(tokens, a.batch_tokens, opt.batching, p.num_gpus());
  check_memory("simulate", {{"batches", batches}, {"layers", p.num_layers}, {"GPUs", p.num_gpus()}},
               64 + 4 * int64_t(p.slots_per_gpu));
  EvalResult e = evaluate(reader, p, topo, model, opt);
  SimResult s = simulate(e, topo, model, SimOptions{a.max_chunks});
  if (a.json) {
    std::printf("%s\n", sim_json(s).c_str());
  } else {
    // Names come from input files: escaped, so they cannot break the line or drive the terminal.
    std::printf("placement %s (%s), router %s, topology %s, model %s\n", one_line(a.placement).c_str(),
                one_line(p.policy).c_str(), a.router.c_str(), one_line(topo.name).c_str(),
                one_line(model.name).c_str());
    std::printf("%s", format_sim(s).c_str());
  }
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  auto args = std::make_shared<SimulateArgs>();
  auto* cmd = app.add_subcommand("simulate", "Evaluate a placement on a trace, then simulate the MoE-layer time");
  cmd->add_option(
         "--trace", args->traces,
         "Routing trace: ids .npy[.gz] file, folder or synthetic:MODEL[:TOKENS[:SEED]] (repeat to concatenate)")
      ->required();
  cmd->add_option("--placement", args->placement, "Placement JSON (grace plan -o)")->required();
  cmd->add_option("--topology", args->topology,
                  "Topology: 2x4, 2x4@h200, paper, h200 or a JSON file "
                  "(default: the placement's shape, paper constants)");
  cmd->add_option("--model", args->model, "Model preset or JSON (default: the placement's model)");
  cmd->add_option("--router", args->router, router_option_help())->capture_default_str();
  cmd->add_option("--comm", args->comm, "Communication scheme: flat | hierarchical")->capture_default_str();
  cmd->add_option("--batch-tokens", args->batch_tokens, "Tokens per batch")->capture_default_str();
  cmd->add_option("--batching", args->batching, kBatchingHelp)->capture_default_str();
  cmd->add_option("--seed", args->seed, "Router seed")->capture_default_str();
  cmd->add_option("--max-chunks", args->max_chunks, "Overlap model: largest chunk count tried")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object instead of the table");
  cmd->callback([args] { run_simulate(*args); });
}

}  // namespace grace::cli
