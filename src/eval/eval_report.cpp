// EvalResult presentation: the comm scheme names, bytes per token, the readable table and the
// JSON of `grace evaluate [--json]`.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "grace/error.h"
#include "grace/evaluate.h"

namespace grace {
namespace {

double per(double num, double den) { return den > 0 ? num / den : 0.0; }

// Trace tokens behind a totals row: tokens x layers divided by the layers it sums.
double trace_tokens(const EvalTotals& t, int layers) { return per(double(t.tokens), layers); }

nlohmann::json totals_json(const EvalTotals& t, int layers, int64_t token_bytes, int nodes) {
  const double tok = trace_tokens(t, layers);
  nlohmann::json j;
  j["tokens"] = t.tokens;
  j["pairs"] = t.pairs;
  j["intra_copies"] = t.intra_copies;
  j["inter_copies"] = t.inter_copies;
  j["inter_bytes_per_token"] = per(double(t.inter_copies) * double(token_bytes), tok);
  j["intra_bytes_per_token"] = per(double(t.intra_copies) * double(token_bytes), tok);
  j["nic_busiest_copies"] = t.nic_busiest_copies;
  j["nic_max_mean"] = EvalResult::nic_max_mean(t, nodes);
  j["pairs_same_gpu"] = t.pairs_same_gpu;
  j["pairs_same_node"] = t.pairs_same_node;
  j["pairs_remote"] = t.pairs_remote;
  j["share_same_gpu"] = per(double(t.pairs_same_gpu), double(t.pairs));
  j["share_same_node"] = per(double(t.pairs_same_gpu + t.pairs_same_node), double(t.pairs));
  j["load_max_mean"] = per(t.load_max_mean_sum, double(t.samples));
  j["load_std_mean"] = per(t.load_std_sum, double(t.samples));
  j["samples"] = t.samples;
  return j;
}

}  // namespace

CommScheme parse_comm_scheme(const std::string& name) {
  if (name == "flat") return CommScheme::kFlat;
  if (name == "hierarchical") return CommScheme::kHierarchical;
  fail_input("unknown communication scheme '{}' (valid: flat, hierarchical)", name);
}

const char* comm_scheme_name(CommScheme c) { return c == CommScheme::kFlat ? "flat" : "hierarchical"; }

Batching parse_batching(const std::string& name) {
  if (name == "trace") return Batching::kTrace;
  if (name == "balanced") return Batching::kBalanced;
  fail_input("unknown batching '{}' (valid: trace, balanced)", one_line(name));
}

const char* batching_name(Batching b) { return b == Batching::kTrace ? "trace" : "balanced"; }

int64_t max_batches(int64_t tokens, int64_t batch_tokens, Batching b, int gpus) {
  const int64_t per = b == Batching::kTrace ? batch_tokens : std::max<int64_t>(1, batch_tokens / std::max(1, gpus));
  return per > 0 ? tokens / per + (tokens % per != 0) : 0;
}

double EvalResult::inter_bytes_per_token() const {
  return per(double(total.inter_copies) * double(token_bytes), trace_tokens(total, num_layers));
}

double EvalResult::nic_max_mean(const EvalTotals& t, int num_nodes) {
  return per(double(t.nic_busiest_copies), per(double(t.inter_copies), num_nodes));
}

double EvalResult::intra_bytes_per_token() const {
  return per(double(total.intra_copies) * double(token_bytes), trace_tokens(total, num_layers));
}

std::string format_eval(const EvalResult& r) {
  std::string s = fmt::format(
      "router {}, {} communication, {} GPUs, {} batches of up to {} tokens ({} batching), {} B per token "
      "copy\n",
      r.router, comm_scheme_name(r.comm), r.num_gpus, r.num_batches, r.batch_tokens, batching_name(r.batching),
      r.token_bytes);
  s += "dispatch bytes per token (combine moves the same back); NIC: busiest node NIC over the mean (busier\n"
       "direction, cross-node copies); load over GPUs per batch\n";
  s += fmt::format("{:>6} {:>14} {:>14} {:>10} {:>11} {:>11} {:>9} {:>9}\n", "layer", "cross-node B/t",
                   "intra-node B/t", "NIC max/mn", "load max/mn", "load std/mn", "own GPU", "own node");
  auto row = [&](const std::string& label, const EvalTotals& t, int layers) {
    const double tok = trace_tokens(t, layers);
    s += fmt::format("{:>6} {:>14.1f} {:>14.1f} {:>10.3f} {:>11.3f} {:>11.3f} {:>8.1f}% {:>8.1f}%\n", label,
                     per(double(t.inter_copies) * double(r.token_bytes), tok),
                     per(double(t.intra_copies) * double(r.token_bytes), tok), EvalResult::nic_max_mean(t, r.num_nodes),
                     per(t.load_max_mean_sum, double(t.samples)), per(t.load_std_sum, double(t.samples)),
                     100.0 * per(double(t.pairs_same_gpu), double(t.pairs)),
                     100.0 * per(double(t.pairs_same_gpu + t.pairs_same_node), double(t.pairs)));
  };
  for (size_t l = 0; l < r.per_layer.size(); ++l) row(std::to_string(l), r.per_layer[l], 1);
  row("total", r.total, r.num_layers);
  s += fmt::format("total copies: {} cross-node, {} intra-node, over {} token-expert pairs\n", r.total.inter_copies,
                   r.total.intra_copies, r.total.pairs);
  return s;
}

std::string eval_json(const EvalResult& r) {
  nlohmann::json j;
  j["router"] = r.router;
  j["comm"] = comm_scheme_name(r.comm);
  j["batch_tokens"] = r.batch_tokens;
  j["batching"] = batching_name(r.batching);
  j["num_batches"] = r.num_batches;
  j["token_bytes"] = r.token_bytes;
  j["num_layers"] = r.num_layers;
  j["num_gpus"] = r.num_gpus;
  j["num_nodes"] = r.num_nodes;
  j["inter_bytes_per_token"] = r.inter_bytes_per_token();
  j["intra_bytes_per_token"] = r.intra_bytes_per_token();
  j["total"] = totals_json(r.total, r.num_layers, r.token_bytes, r.num_nodes);
  nlohmann::json layers = nlohmann::json::array();
  for (const EvalTotals& t : r.per_layer) layers.push_back(totals_json(t, 1, r.token_bytes, r.num_nodes));
  j["per_layer"] = std::move(layers);
  return dump_json(j);
}

}  // namespace grace
