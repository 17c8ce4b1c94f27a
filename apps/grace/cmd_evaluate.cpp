// grace evaluate: replay routing traces through a placement and a router, count what each GPU
// computes and what crosses each link tier, and print the table (or JSON).
//
//   grace evaluate --trace T [--trace T]... --placement P [--model M] [--topology X]
//                  [--router R] [--comm flat|hierarchical] [--batch-tokens B] [--seed S] [--json]
//
// Defaults: the model named by the placement; the topology NODESxGPUS of the placement with the
// paper constants. Every input is checked before the replay (names, placement against topology
// and model, trace shape against the placement). The trace streams with bounded memory; a
// trace may be `synthetic:MODEL[:TOKENS[:SEED]]` (see synth.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "batching_option.h"
#include "checked_placement.h"
#include "commands.h"
#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/router.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#include "router_option.h"

namespace grace::cli {
namespace {

struct EvaluateArgs {
  std::vector<std::string> traces;
  std::string placement;
  std::string model;
  std::string topology;
  std::string router = "tar";
  std::string comm = "hierarchical";
  int64_t batch_tokens = 4096;
  std::string batching = "trace";
  uint64_t seed = 0;
  bool json = false;
};

void run_evaluate(const EvaluateArgs& a) {
  EvalOptions opt;
  opt.comm = parse_comm_scheme(a.comm);
  opt.router = a.router;
  opt.batch_tokens = a.batch_tokens;
  opt.batching = parse_batching(a.batching);
  opt.seed = a.seed;
  opt.keep_records = false;  // totals only: bounded memory on long traces
  GRACE_INPUT_CHECK(a.batch_tokens > 0, "--batch-tokens must be positive (got {})", a.batch_tokens);
  check_router_name(a.router, "--router");
  const CheckedPlacement checked = load_checked_placement(a.placement, a.model, a.topology);
  const Placement& p = checked.placement;
  const ModelSpec& model = checked.model;
  const Topology& topo = checked.topo;

  TraceReader reader(a.traces, p.num_experts);
  const TraceShape& shape = reader.shape();
  GRACE_INPUT_CHECK(shape.num_layers == p.num_layers, "--trace has {} MoE layers but placement '{}' has {}",
                    shape.num_layers, a.placement, p.num_layers);
  const EvalResult r = evaluate(reader, p, topo, model, opt);
  const std::string out = a.json ? eval_json(r) + "\n" : format_eval(r);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto args = std::make_shared<EvaluateArgs>();
  auto* cmd =
      app.add_subcommand("evaluate", "Replay routing traces through a placement and a router; count traffic and load");
  cmd->add_option("--trace", args->traces,
                  "Trace: ids .npy[.gz] file, folder, or synthetic:MODEL[:TOKENS[:SEED]] (repeatable)")
      ->required();
  cmd->add_option("--placement", args->placement, "grace placement JSON")->required();
  cmd->add_option("--model", args->model, "Model preset or JSON (default: the placement's)");
  cmd->add_option("--topology", args->topology, "Topology spec (default: the placement's NODESxGPUS, paper constants)");
  cmd->add_option("--router", args->router, router_option_help())->capture_default_str();
  cmd->add_option("--comm", args->comm, "flat | hierarchical")->capture_default_str();
  cmd->add_option("--batch-tokens", args->batch_tokens, "Tokens per batch")->capture_default_str();
  cmd->add_option("--batching", args->batching, kBatchingHelp)->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed of the routers' weighted draws")->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object instead of the table");
  cmd->callback([args] { run_evaluate(*args); });
}

}  // namespace grace::cli
