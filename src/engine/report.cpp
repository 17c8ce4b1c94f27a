// Text and JSON reports of an engine run (format_engine / engine_json in grace/engine/engine.h).
#include <algorithm>
#include <array>
#include <vector>

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "grace/engine/engine.h"

namespace grace::engine {
namespace {

nlohmann::json tier_json(const TierCounts& c) {
  return {{"intra_bytes", c.intra_bytes},
          {"inter_bytes", c.inter_bytes},
          {"intra_rows", c.intra_rows},
          {"inter_rows", c.inter_rows}};
}

nlohmann::json layer_json(const EngineLayerStats& s) {
  return {{"dispatch_s", s.dispatch_s},
          {"compute_s", s.compute_s},
          {"combine_s", s.combine_s},
          {"comm_s", s.dispatch_s + s.combine_s},
          {"compute_rank_max_s", s.compute_rank_max_s},
          {"compute_rank_mean_s", s.compute_rank_mean_s},
          {"compute_max_mean", s.compute_rank_mean_s > 0 ? s.compute_rank_max_s / s.compute_rank_mean_s : 0.0},
          {"pairs", s.pairs},
          {"dispatch", tier_json(s.dispatch)},
          {"combine", tier_json(s.combine)}};
}

std::string mb(int64_t bytes) { return fmt::format("{:.2f}", double(bytes) / 1e6); }

// Least, median and largest of the timed layer calls (seconds); zeros without any.
std::array<double, 3> call_spread(std::vector<double> c) {
  if (c.empty()) return {0, 0, 0};
  std::sort(c.begin(), c.end());
  const size_t n = c.size();
  return {c.front(), n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]), c.back()};
}

std::string layer_line(const std::string& label, const EngineLayerStats& s) {
  const double ratio = s.compute_rank_mean_s > 0 ? s.compute_rank_max_s / s.compute_rank_mean_s : 0.0;
  return fmt::format("{:>6} {:>10.2f} {:>10.2f} {:>10.2f} {:>9.2f} {:>11} {:>11} {:>11} {:>11}\n", label,
                     s.dispatch_s * 1e3, s.compute_s * 1e3, s.combine_s * 1e3, ratio, mb(s.dispatch.intra_bytes),
                     mb(s.dispatch.inter_bytes), mb(s.combine.intra_bytes), mb(s.combine.inter_bytes));
}

}  // namespace

std::string format_engine(const EngineResult& r) {
  std::string out = fmt::format(
      "grace run: backend {}, routing {}, {} ranks ({}x{}), comm {}, router {}, compute {}, weights {}\n"
      "  hidden {} intermediate {} top-k {}, {} batches of <= {} tokens ({} batching), {} tokens, {} layers; "
      "row {} bytes; expert weights {:.1f} MB on the largest rank; wall {:.3f} s\n",
      r.backend, r.routing, r.ranks, r.nodes, r.gpus_per_node, r.comm, r.router, r.compute, r.weights, r.hidden,
      r.intermediate, r.top_k, r.num_batches, r.batch_tokens, r.batching, r.tokens, r.num_layers, r.row_bytes,
      r.weight_bytes_max / 1e6, r.wall_s);
  out +=
      "  times: wall ms summed over batches, each the max over ranks; compute max/mean over ranks;\n"
      "  MB sent (per direction, self excluded) by tier, counted by the engine\n";
  out += fmt::format("{:>6} {:>10} {:>10} {:>10} {:>9} {:>11} {:>11} {:>11} {:>11}\n", "layer", "dispatch", "compute",
                     "combine", "cmp max/mean", "disp intra", "disp inter", "comb intra", "comb inter");
  for (size_t l = 0; l < r.per_layer.size(); ++l) out += layer_line(std::to_string(l), r.per_layer[l]);
  out += layer_line("total", r.total);
  if (!r.call_s.empty()) {
    const auto [lo, med, hi] = call_spread(r.call_s);
    out += fmt::format("  layer calls: {} timed, ms least / median / largest: {:.2f} / {:.2f} / {:.2f}\n",
                       r.call_s.size(), lo * 1e3, med * 1e3, hi * 1e3);
  }
  if (r.checked_tokens > 0)
    out += fmt::format(
        "  output check: {} tokens vs the single-process reference, max|diff|/max|ref| = {:.2e} "
        "(tolerance {:.0e}): {}\n",
        r.checked_tokens, r.check_rel_err, r.check_tolerance, r.check_ok ? "OK" : "FAILED");
  return out;
}

std::string engine_json(const EngineResult& r) {
  nlohmann::json j;
  j["backend"] = r.backend;
  j["routing"] = r.routing;
  j["ranks"] = r.ranks;
  j["nodes"] = r.nodes;
  j["gpus_per_node"] = r.gpus_per_node;
  j["comm"] = r.comm;
  j["router"] = r.router;
  j["compute"] = r.compute;
  j["weights"] = r.weights;
  j["hidden"] = r.hidden;
  j["intermediate"] = r.intermediate;
  j["top_k"] = r.top_k;
  j["batch_tokens"] = r.batch_tokens;
  j["batching"] = r.batching;
  j["num_batches"] = r.num_batches;
  j["tokens"] = r.tokens;
  j["num_layers"] = r.num_layers;
  j["row_bytes"] = r.row_bytes;
  j["weight_bytes_max"] = r.weight_bytes_max;
  j["wall_s"] = r.wall_s;
  j["per_layer"] = nlohmann::json::array();
  for (const auto& s : r.per_layer) j["per_layer"].push_back(layer_json(s));
  j["total"] = layer_json(r.total);
  const auto [lo, med, hi] = call_spread(r.call_s);
  j["calls"] = {{"count", r.call_s.size()}, {"min_s", lo}, {"median_s", med}, {"max_s", hi}, {"s", r.call_s}};
  if (r.checked_tokens > 0)
    j["check"] = {{"tokens", r.checked_tokens},
                  {"rel_err", r.check_rel_err},
                  {"tolerance", r.check_tolerance},
                  {"ok", r.check_ok}};
  return dump_json(j);
}

}  // namespace grace::engine
