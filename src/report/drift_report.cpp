// Printing `grace drift` (grace/drift.h): the per-window table and the strategies' table, one
// JSON object, and an HTML page with SVG charts.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "grace/drift.h"
#include "report/svg_charts.h"

namespace grace {
namespace {

std::string budget_text(int64_t m) { return m < 0 ? "unbounded" : fmt::format("{} instances", m); }

nlohmann::json cost_json(const WindowCost& c) {
  return {{"inter_bytes_per_token", c.inter_bytes_per_token},
          {"intra_bytes_per_token", c.intra_bytes_per_token},
          {"load_max_mean", c.load_max_mean},
          {"tokens", c.tokens}};
}

}  // namespace

std::string drift_text(const DriftReport& r) {
  const auto& o = r.options;
  std::string s = fmt::format(
      "grace drift: placement {}, {} windows of {} tokens, router {} ({}), re-plan budget {}, horizon {} batches of "
      "{} tokens ({} batching), move break-even {}\n",
      r.placement, r.windows.size(), o.window, o.router, o.comm, budget_text(o.max_moves), o.horizon, o.batch_tokens,
      o.batching,
      o.min_visits_per_move > 0 ? fmt::format("{:.5f} node visits/token per move", o.min_visits_per_move)
                                : std::string("off"));
  s += "cross-node KB/token: dispatch bytes per token per direction, summed over layers; re: the re-plan made on\n"
       "the previous window, replayed on this one (out of sample); payback in batches of the moves' transfer time\n";
  s += fmt::format("{:>6} {:>10} {:>11} {:>10} {:>11} {:>10} {:>7} {:>9} {:>9} {:>11} {:>5}\n", "window", "first tok",
                   "P KB/tok", "P load", "re KB/tok", "re load", "moves", "moved MB", "move ms", "payback", "pays");
  int flagged = 0;
  for (size_t i = 0; i < r.windows.size(); ++i) {
    const auto& w = r.windows[i];
    flagged += w.pays;
    if (!w.has_replan) {
      s += fmt::format("{:>6} {:>10} {:>11.2f} {:>10.3f} {:>11} {:>10} {:>7} {:>9} {:>9} {:>11} {:>5}\n", i,
                       w.first_token, w.current.inter_bytes_per_token / 1e3, w.current.load_max_mean, "-", "-", "-",
                       "-", "-", "-", "-");
      continue;
    }
    s += fmt::format(
        "{:>6} {:>10} {:>11.2f} {:>10.3f} {:>11.2f} {:>10.3f} {:>7} {:>9.1f} {:>9.2f} {:>11} {:>5}\n", i, w.first_token,
        w.current.inter_bytes_per_token / 1e3, w.current.load_max_mean, w.replanned.inter_bytes_per_token / 1e3,
        w.replanned.load_max_mean, w.move.moves, w.move.bytes / 1e6, w.move.seconds * 1e3,
        w.payback_batches < 0 ? std::string("never") : fmt::format("{:.1f}", w.payback_batches), w.pays ? "yes" : "-");
  }
  s += fmt::format("{} of {} windows would pay back a re-plan within {} batches\n", flagged,
                   r.windows.size() - (r.windows.empty() ? 0 : 1), o.horizon);
  if (!r.strategies.empty()) {
    s += "\nonline strategies (each window replayed with the placement in force before it):\n";
    s += fmt::format("{:<12} {:>16} {:>12} {:>9} {:>9} {:>15}\n", "strategy", "cross-node GB", "load max/mean",
                     "re-plans", "moves", "expert GB moved");
    for (const auto& st : r.strategies)
      s += fmt::format("{:<12} {:>16.3f} {:>12.3f} {:>9} {:>9} {:>15.3f}\n", st.name, st.inter_bytes / 1e9,
                       st.load_max_mean, st.replans, st.total_moves, st.moved_bytes / 1e9);
    s += "cross-node GB: dispatch bytes per direction over the whole stream\n";
  }
  return s;
}

std::string drift_json(const DriftReport& r) {
  const auto& o = r.options;
  nlohmann::json j;
  j["placement"] = r.placement;
  j["model"] = r.model.name;
  j["expert_bytes"] = r.model.expert_bytes();
  j["topology"] = {{"name", r.topo.name}, {"nodes", r.topo.nodes}, {"gpus_per_node", r.topo.gpus_per_node}};
  j["options"] = {{"window", o.window},
                  {"batch_tokens", o.batch_tokens},
                  {"batching", o.batching},
                  {"seq_tokens", o.seq_tokens},
                  {"horizon", o.horizon},
                  {"router", o.router},
                  {"comm", o.comm},
                  {"max_moves", o.max_moves < 0 ? nlohmann::json(nullptr) : nlohmann::json(o.max_moves)},
                  {"min_visits_per_move", o.min_visits_per_move},
                  {"threads", o.threads}};
  j["windows"] = nlohmann::json::array();
  for (const auto& w : r.windows)
    j["windows"].push_back(
        {{"first_token", w.first_token},
         {"has_replan", w.has_replan},
         {"current", cost_json(w.current)},
         {"replanned", cost_json(w.replanned)},
         {"moves", w.move.moves},
         {"intra_node_moves", w.move.intra_moves},
         {"inter_node_moves", w.move.inter_moves},
         {"moved_bytes", w.move.bytes},
         {"move_seconds", w.move.seconds},
         {"saved_bytes_per_batch", w.saved_bytes_per_batch},
         {"payback_batches", w.payback_batches < 0 ? nlohmann::json(nullptr) : nlohmann::json(w.payback_batches)},
         {"pays", w.pays}});
  j["strategies"] = nlohmann::json::array();
  for (const auto& st : r.strategies) {
    nlohmann::json win = nlohmann::json::array();
    for (size_t i = 0; i < st.windows.size(); ++i) {
      auto c = cost_json(st.windows[i]);
      c["moves_after"] = st.moves[i];
      win.push_back(c);
    }
    j["strategies"].push_back({{"name", st.name},
                               {"inter_bytes", st.inter_bytes},
                               {"load_max_mean", st.load_max_mean},
                               {"replans", st.replans},
                               {"moves", st.total_moves},
                               {"moved_bytes", st.moved_bytes},
                               {"windows", win}});
  }
  return dump_json(j);
}

std::string drift_html(const DriftReport& r) {
  std::vector<svg::Series> per;
  svg::Series cur{"placement in force", {}}, rep{"re-plan made on the previous window", {}};
  for (const auto& w : r.windows) {
    cur.values.push_back(w.current.inter_bytes_per_token / 1e3);
    rep.values.push_back((w.has_replan ? w.replanned : w.current).inter_bytes_per_token / 1e3);
  }
  per = {cur, rep};
  std::string body =
      svg::line_chart("Cross-node traffic per window", "window", "KB per token (dispatch, per direction)", per);
  if (!r.strategies.empty()) {
    std::vector<svg::Series> cum;
    for (const auto& st : r.strategies) {
      svg::Series s{st.name, {}};
      double acc = 0;
      for (const auto& c : st.windows) s.values.push_back((acc += c.inter_bytes_per_token * double(c.tokens)) / 1e9);
      cum.push_back(s);
    }
    body += svg::line_chart("Cumulative cross-node traffic by strategy (out of sample)", "window",
                            "GB (dispatch, per direction)", cum);
  }
  std::string table = drift_text(r);
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>grace drift</title>"
         "<style>body{font-family:sans-serif;margin:2em}pre{font-size:12px}</style></head><body>\n"
         "<h1>grace drift</h1>\n" +
         body + "\n<pre>" + svg::escape(table) + "</pre>\n</body></html>\n";
}

}  // namespace grace
