// grace replan: adapt a placement to recent routing while moving at most a budget of expert
// instances (grace/replan.h, docs/replan.md), report what moved and the predicted traffic and
// load before and after, and write the new placement.
//
//   grace replan --placement OLD --trace RECENT [--trace ...] [--max-moves M | --max-move-bytes B]
//                [--horizon-tokens T]
//                [--model M] [--topology X] [--no-full-plan] [--seed S] [--threads N] [--json] [-o NEW]
//
// Every input is checked before the search (placement against model and topology, trace against
// the placement, budget, output folder); the output is written atomically, only on success.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "core/json_file.h"
#include "core/output_path.h"
#include "grace/error.h"
#include "grace/placement_io.h"
#include "grace/profile.h"
#include "grace/replan.h"
#include "replan_input.h"
#include "threads_option.h"

namespace grace::cli {
namespace {

constexpr int64_t kChunkTokens = 65536;  // tokens read and profiled at a time

struct ReplanArgs {
  std::string placement;
  std::vector<std::string> traces;
  std::string model, topology, out;
  int64_t max_moves = -1;
  double max_move_bytes = -1;
  double horizon_tokens = -1;
  bool no_full_plan = false;
  uint64_t seed = 1;
  int threads = 0;
  bool json = false;
  CLI::Option* moves_opt = nullptr;
  CLI::Option* bytes_opt = nullptr;
  CLI::Option* horizon_opt = nullptr;
};

void run_replan(const ReplanArgs& a) {
  const CheckedPlacement cp = load_replan_placement(a.placement, a.model, a.topology);
  const int64_t eb = cp.model.expert_bytes();
  const int64_t budget = move_budget(a.moves_opt, a.max_moves, a.bytes_opt, a.max_move_bytes, eb);
  GRACE_INPUT_CHECK(a.horizon_opt->count() == 0 || (std::isfinite(a.horizon_tokens) && a.horizon_tokens > 0),
                    "--horizon-tokens must be a positive number of tokens (got {})", a.horizon_tokens);
  check_threads_option(a.threads);
  check_output_file(a.out, "-o");
  const auto reader = open_checked_trace(a.traces, cp, a.placement);
  if (!a.out.empty()) check_not_an_input(a.out);  // the placement and traces are opened: before the work
  const Profile prof = build_profile(*reader, cp.placement.num_experts, kChunkTokens, a.threads);  // streamed

  ReplanOptions o;
  o.max_moves = budget;
  o.full_plan_target = !a.no_full_plan;
  o.seed = a.seed;
  o.threads = a.threads;
  o.min_visits_per_move = move_break_even(cp.model, a.horizon_tokens);
  const auto t0 = std::chrono::steady_clock::now();
  const ReplanResult r = replan(cp.placement, prof, cp.model, cp.topo, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.out.empty()) save_placement(r.placement, a.out);

  const double tb = double(cp.model.token_bytes());
  const double mb = 1e6;
  if (a.json) {
    nlohmann::json j;
    j["placement"] = a.placement;
    j["traces"] = a.traces;
    j["tokens"] = prof.tokens;
    j["model"] = cp.model.name;
    j["topology"] = {{"nodes", cp.topo.nodes}, {"gpus_per_node", cp.topo.gpus_per_node}};
    j["budget_moves"] = budget < 0 ? nlohmann::json(nullptr) : nlohmann::json(budget);
    j["horizon_tokens"] = a.horizon_tokens > 0 ? nlohmann::json(a.horizon_tokens) : nlohmann::json(nullptr);
    j["min_visits_per_move"] = o.min_visits_per_move;
    j["stopped_at_break_even"] = r.stopped_at_break_even;
    j["moves"] = r.moves;
    j["bytes_moved"] = r.moves * eb;
    j["expert_bytes"] = eb;
    j["layers_changed"] = r.layers_changed;
    j["node_visits_per_token"] = {
        {"before", r.visits_before},
        {"after", r.visits_after},
        {"full_plan", r.visits_full < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.visits_full)}};
    j["cross_node_bytes_per_token"] = {{"before", r.visits_before * tb}, {"after", r.visits_after * tb}};
    j["load_max_mean"] = {{"before", r.load_before},
                          {"after", r.load_after},
                          {"full_plan", r.load_full < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.load_full)}};
    j["full_plan_moves"] = r.full_plan_moves < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.full_plan_moves);
    j["seconds"] = secs;
    j["output"] = a.out.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.out);
    std::printf("%s\n", dump_json(j).c_str());
    return;
  }
  auto pct = [](double a_, double b_) { return a_ > 0 ? 100.0 * (b_ - a_) / a_ : 0.0; };
  std::printf("grace replan (%.2f s)\n", secs);
  std::printf("  placement   %s: %s, model %s, %dx%d GPUs, %d slots per GPU\n", a.placement.c_str(),
              one_line(cp.placement.policy).c_str(), one_line(cp.model.name).c_str(), cp.topo.nodes,
              cp.topo.gpus_per_node, cp.placement.slots_per_gpu);
  std::printf("  recent      %lld tokens\n", (long long)prof.tokens);
  std::printf(
      "  budget      %s\n",
      budget < 0 ? "unbounded" : fmt::format("{} instances ({:.1f} MB)", budget, double(budget * eb) / mb).c_str());
  if (o.min_visits_per_move > 0)
    std::printf(
        "  break-even  a move must save %.5f node visits per token (pays for its %.1f MB within %.0f tokens)%s\n",
        o.min_visits_per_move, double(eb) / mb, a.horizon_tokens,
        r.stopped_at_break_even ? "; the search stopped there" : "");
  std::printf("  moved       %lld instances, %.1f MB of expert weights, in %lld of %d layers\n", (long long)r.moves,
              double(r.moves * eb) / mb, (long long)r.layers_changed, cp.placement.num_layers);
  std::printf("  predicted   remote node visits per token (sum over layers) %.3f -> %.3f (%+.1f%%)\n", r.visits_before,
              r.visits_after, pct(r.visits_before, r.visits_after));
  std::printf("              cross-node bytes per token per direction %.0f -> %.0f\n", r.visits_before * tb,
              r.visits_after * tb);
  std::printf("              GPU load max/mean (tar estimate, mean over layers) %.3f -> %.3f\n", r.load_before,
              r.load_after);
  if (r.visits_full >= 0)
    std::printf(
        "  full plan   grace plan of the recent routing: %.3f visits per token, load %.3f, %lld moves (%.1f MB)\n",
        r.visits_full, r.load_full, (long long)r.full_plan_moves, double(r.full_plan_moves * eb) / mb);
  if (!a.out.empty()) std::printf("  written     %s\n", a.out.c_str());
}

}  // namespace

void add_replan_command(CLI::App& app) {
  auto args = std::make_shared<ReplanArgs>();
  auto* cmd =
      app.add_subcommand("replan", "Adapt a placement to recent routing, moving at most a budget of expert instances");
  cmd->add_option("--placement", args->placement, "The placement in force (grace placement JSON)")->required();
  cmd->add_option(
         "--trace", args->traces,
         "Recent routing: ids .npy[.gz] file, folder or synthetic:MODEL[:TOKENS[:SEED]] (repeat to concatenate)")
      ->required();
  args->moves_opt = cmd->add_option("--max-moves", args->max_moves,
                                    "Most expert instances to place anew (default: no limit; 0 keeps the placement)");
  args->bytes_opt = cmd->add_option("--max-move-bytes", args->max_move_bytes,
                                    "Most bytes of expert weights to move (instances x the model's expert size)");
  args->horizon_opt =
      cmd->add_option("--horizon-tokens", args->horizon_tokens,
                      "Make a move only when the cross-node bytes it saves over this many served tokens (both "
                      "directions) reach the expert bytes it ships (default: no such rule, only the budget)");
  cmd->add_option("--model", args->model, "Model preset or JSON (default: the placement's; must match it)");
  cmd->add_option("--topology", args->topology,
                  "Topology spec (default: the placement's NODESxGPUS, paper constants; must match its shape)");
  cmd->add_flag("--no-full-plan", args->no_full_plan,
                "Search by swaps and replacements only (do not consider adopting layers of a full grace plan)");
  cmd->add_option("--seed", args->seed, "Seed of the full grace plan")->capture_default_str();
  cmd->add_option("-o,--output", args->out, "Write the new placement here");
  cmd->add_option("--threads", args->threads, kThreadsHelp);
  cmd->add_flag("--json", args->json, "Print one JSON object instead of the report");
  cmd->callback([args] { run_replan(*args); });
}

}  // namespace grace::cli
