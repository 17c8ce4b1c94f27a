#include "replan_input.h"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <memory>

#include "core/cost_limits.h"
#include "core/output_path.h"
#include "grace/error.h"
#include "grace/placement_io.h"
#include "grace/replan.h"
#include "grace/trace_io.h"

namespace grace::cli {

CheckedPlacement load_replan_placement(const std::string& path, const std::string& model_arg,
                                       const std::string& topology_arg) {
  const Placement p = load_placement(path);
  if (!model_arg.empty() && !p.model.empty()) {
    const ModelSpec m = load_model(model_arg);
    GRACE_INPUT_CHECK(m.name == p.model, "placement '{}' was planned for model '{}', not --model '{}'", path, p.model,
                      m.name);
  }
  if (!topology_arg.empty()) {
    const Topology t = parse_topology(topology_arg);
    GRACE_INPUT_CHECK(t.nodes == p.nodes && t.gpus_per_node == p.gpus_per_node,
                      "placement '{}' was planned for {}x{} GPUs, not --topology '{}' ({}x{})", path, p.nodes,
                      p.gpus_per_node, topology_arg, t.nodes, t.gpus_per_node);
  }
  return load_checked_placement(path, model_arg, topology_arg);
}

std::unique_ptr<TraceReader> open_checked_trace(const std::vector<std::string>& traces, const CheckedPlacement& cp,
                                                const std::string& placement_path) {
  std::string names;
  for (const auto& t : traces) names += (names.empty() ? "" : ", ") + t;
  const Placement& p = cp.placement;
  // Shape first, from a reader that checks no expert count, so that a trace of another model is
  // named for its shape before anything else is said of it.
  {
    TraceReader any(traces, std::max(p.num_experts, 1 << 16));
    const TraceShape& s = any.shape();
    GRACE_INPUT_CHECK(s.num_layers == p.num_layers && s.top_k == cp.model.top_k,
                      "--trace '{}' has {} MoE layers, top-{} but placement '{}' is for model '{}' ({} MoE layers, "
                      "top-{})",
                      names, s.num_layers, s.top_k, placement_path, cp.model.name, p.num_layers, cp.model.top_k);
    GRACE_INPUT_CHECK(s.tokens > 0, "--trace '{}' holds no tokens (empty stream)", names);
  }
  return std::make_unique<TraceReader>(traces, p.num_experts);
}

int64_t move_budget(const CLI::Option* moves_opt, int64_t moves, const CLI::Option* bytes_opt, double bytes,
                    int64_t expert_bytes) {
  const bool m = moves_opt->count() > 0, b = bytes_opt->count() > 0;
  GRACE_INPUT_CHECK(!(m && b), "give --max-moves or --max-move-bytes, not both");
  if (m) {
    GRACE_INPUT_CHECK(moves >= 0, "--max-moves {}: the budget must be >= 0 (omit it for no limit)", moves);
    return moves;
  }
  if (b) {
    GRACE_INPUT_CHECK(std::isfinite(bytes) && bytes >= 0,
                      "--max-move-bytes {}: the budget must be >= 0 (omit it for no limit)", bytes);
    return int64_t(std::floor(bytes / double(std::max<int64_t>(1, expert_bytes))));
  }
  return -1;
}

double parse_break_even(const std::string& value, const ModelSpec& model, double horizon_tokens, const char* flag) {
  if (value == "auto") {
    // No move pays back within a horizon of 0 tokens (move_break_even would read 0 as "off").
    GRACE_INPUT_CHECK(horizon_tokens > 0,
                      "{} auto: the horizon is 0 tokens, within which no move pays back; give a horizon > 0, or {} "
                      "off to move without the rule",
                      flag, flag);
    return move_break_even(model, horizon_tokens);
  }
  if (value == "off") return 0;
  // Decimal only, as every other number on the command line (no "0x10", no leading space).
  double v = -1;
  const auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  const bool whole = !value.empty() && r.ec == std::errc() && r.ptr == value.data() + value.size();
  GRACE_INPUT_CHECK(whole && std::isfinite(v) && v >= 0,
                    "{} must be auto, off or a decimal number >= 0 of node visits per token per move (got {})", flag,
                    quote_input(value));
  return v;
}

void check_output_file(const std::string& out, const char* flag) {
  if (out.empty()) return;
  auto parent = std::filesystem::path(out).parent_path();
  if (parent.empty()) parent = ".";
  GRACE_INPUT_CHECK(std::filesystem::is_directory(parent), "{} '{}': folder '{}' does not exist", flag, out,
                    parent.string());
  GRACE_INPUT_CHECK(!std::filesystem::is_directory(out), "{} '{}' is a folder, expected a file name", flag, out);
  check_can_create(out);
}

}  // namespace grace::cli
