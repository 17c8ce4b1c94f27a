// grace drift: walk a routing stream in windows and report, per window, the traffic and load of
// a placement against a re-plan of that window, flagging the windows where re-planning pays
// back the expert bytes it moves within a horizon of batches; with --strategies, replay online
// re-planning strategies out of sample (grace/drift_run.h, docs/replan.md). The stream is read
// a window at a time.
//
//   grace drift --placement P --trace STREAM [--trace ...] --window W [--horizon H]
//               [--max-moves M | --max-move-bytes B] [--strategies static,eplb:K,grace:K,replan]
//               [--router R] [--batch-tokens B] [--batching trace|balanced] [--seq-tokens S] [--json]
//               [--html report.html]
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "batching_option.h"
#include "commands.h"
#include "core/atomic_file.h"
#include "core/cost_limits.h"
#include "core/output_path.h"
#include "grace/drift.h"
#include "grace/drift_run.h"
#include "grace/error.h"
#include "grace/evaluate.h"
#include "grace/router.h"
#include "replan_input.h"
#include "router_option.h"
#include "threads_option.h"

namespace grace::cli {
namespace {

struct DriftArgs {
  std::string placement;
  std::vector<std::string> traces;
  std::string model, topology, html;
  std::vector<std::string> strategies;
  std::string break_even = "auto";
  DriftOptions o;
  int64_t max_moves = -1;
  double max_move_bytes = -1;
  bool json = false;
  CLI::Option* moves_opt = nullptr;
  CLI::Option* bytes_opt = nullptr;
};

void run_drift_cmd(DriftArgs a) {
  const CheckedPlacement cp = load_replan_placement(a.placement, a.model, a.topology);
  a.o.max_moves = move_budget(a.moves_opt, a.max_moves, a.bytes_opt, a.max_move_bytes, cp.model.expert_bytes());
  GRACE_INPUT_CHECK(a.o.window > 0, "--window must be a positive number of tokens (got {})", a.o.window);
  GRACE_INPUT_CHECK(a.o.batch_tokens > 0, "--batch-tokens must be positive (got {})", a.o.batch_tokens);
  GRACE_INPUT_CHECK(a.o.seq_tokens > 0, "--seq-tokens must be positive (got {})", a.o.seq_tokens);
  GRACE_INPUT_CHECK(a.o.horizon >= 0, "--horizon must be >= 0 batches (got {})", a.o.horizon);
  check_router_name(a.o.router, "--router");
  parse_comm_scheme(a.o.comm);
  parse_batching(a.o.batching);
  check_threads_option(a.o.threads);
  a.strategies = split_strategies(a.strategies);
  check_strategies(a.strategies);
  GRACE_INPUT_CHECK(a.o.horizon > 0 || a.break_even != "auto",
                    "--horizon 0: within 0 batches no move pays back; give a horizon > 0, or --move-break-even off to "
                    "move without the rule");
  a.o.min_visits_per_move =
      parse_break_even(a.break_even, cp.model, double(a.o.horizon) * double(a.o.batch_tokens), "--move-break-even");
  check_output_file(a.html, "--html");
  const auto stream = open_checked_trace(a.traces, cp, a.placement);
  if (!a.html.empty()) check_not_an_input(a.html);  // the placement and traces are opened: before the windows' work
  // Window w is compared with a re-plan made on window w - 1: one window compares nothing.
  const int64_t tokens = stream->shape().tokens;
  GRACE_INPUT_CHECK(tokens >= 2 * a.o.window,
                    "--window {}: the stream has {} tokens, so fewer than two windows and nothing to compare (drift "
                    "re-plans on each window and evaluates on the next); give a --window of at most {}",
                    a.o.window, tokens, tokens / 2);
  const int64_t n_windows = drift_window_count(tokens, a.o.window);
  check_count("drift",
              {{"re-plans", int64_t(std::ceil(double(n_windows) * replans_per_window(a.strategies)))},
               {"GPUs", cp.topo.num_gpus()},
               {"experts", cp.model.experts},
               {"layers", cp.model.moe_layers}},
              kMaxDriftWork, "one re-plan per window, and the strategies' own; a larger --window means fewer windows");
  // The stream is read a window at a time: one window (and its copy cut into pieces) in memory.
  check_memory("--window " + std::to_string(a.o.window),
               {{"tokens", a.o.window}, {"layers", cp.model.moe_layers}, {"top-k", cp.model.top_k}},
               int64_t(2 * sizeof(expert_t)));

  const bool tty = ::isatty(2) != 0;
  auto progress = [tty](int64_t done, int64_t total) {
    if (tty)
      std::fprintf(stderr, "\rdrift: window %lld / %lld%s", (long long)done, (long long)total,
                   done == total ? "\n" : "");
    else if (done == total || done * 10 / total != (done - 1) * 10 / total)  // a log: every 10%
      std::fprintf(stderr, "drift: window %lld / %lld\n", (long long)done, (long long)total);
  };
  DriftReport rep;
  rep.placement = a.placement;
  rep.options = a.o;
  rep.model = cp.model;
  rep.topo = cp.topo;
  DriftResult r = run_drift(*stream, cp.placement, cp.topo, cp.model, a.o, a.strategies, progress);
  rep.windows = std::move(r.windows);
  rep.strategies = std::move(r.strategies);
  if (!a.html.empty()) write_file_atomic(a.html, drift_html(rep));
  const std::string out = a.json ? drift_json(rep) + "\n" : drift_text(rep);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!a.html.empty() && !a.json) std::printf("written %s\n", a.html.c_str());
}

}  // namespace

void add_drift_command(CLI::App& app) {
  auto args = std::make_shared<DriftArgs>();
  auto* cmd = app.add_subcommand(
      "drift", "Walk a routing stream in windows: placement vs re-plan per window, and when re-planning pays");
  cmd->add_option("--placement", args->placement, "The placement in force (grace placement JSON)")->required();
  cmd->add_option(
         "--trace", args->traces,
         "Routing stream: ids .npy[.gz] files, folders or synthetic:MODEL[:TOKENS[:SEED]], concatenated in order")
      ->required();
  cmd->add_option("--window", args->o.window, "Tokens per window")->required();
  cmd->add_option("--horizon", args->o.horizon, "Batches within which a re-plan must pay back its moves")
      ->capture_default_str();
  args->moves_opt =
      cmd->add_option("--max-moves", args->max_moves, "Re-plan budget in expert instances (default: none)");
  args->bytes_opt =
      cmd->add_option("--max-move-bytes", args->max_move_bytes, "Re-plan budget in bytes of expert weights");
  cmd->add_option("--strategies", args->strategies,
                  "Also replay online strategies out of sample, comma-separated: static, replan (as --max-moves says, "
                  "adopted when it pays back within the horizon), eplb:K, grace:K (full re-plan every K windows)");
  cmd->add_option("--move-break-even", args->break_even,
                  "Re-plans make a move only when it pays for its bytes: auto (the cross-node bytes it saves over "
                  "--horizon x --batch-tokens tokens must reach the expert bytes it ships, from the model), off, or "
                  "a number (node visits per token saved per move)")
      ->capture_default_str();
  cmd->add_option("--router", args->o.router, router_option_help("Router of the replay"))->capture_default_str();
  cmd->add_option("--comm", args->o.comm, "flat | hierarchical")->capture_default_str();
  cmd->add_option("--batch-tokens", args->o.batch_tokens, "Tokens per batch (replay and horizon)")
      ->capture_default_str();
  cmd->add_option("--batching", args->o.batching, kBatchingHelp)->capture_default_str();
  cmd->add_option("--seq-tokens", args->o.seq_tokens,
                  "Cut sequences into pieces of at most this many tokens (spreads a window over the source GPUs)")
      ->capture_default_str();
  cmd->add_option("--model", args->model, "Model preset or JSON (default: the placement's; must match it)");
  cmd->add_option("--topology", args->topology,
                  "Topology spec (default: the placement's NODESxGPUS, paper constants; must match its shape)");
  cmd->add_option("--seed", args->o.seed, "Seed of the planners and routers")->capture_default_str();
  cmd->add_option("--html", args->html, "Also write an HTML report with an SVG chart here");
  cmd->add_option("--threads", args->o.threads, kThreadsHelp);
  cmd->add_flag("--json", args->json, "Print one JSON object instead of the table");
  cmd->callback([args] { run_drift_cmd(*args); });
}

}  // namespace grace::cli
