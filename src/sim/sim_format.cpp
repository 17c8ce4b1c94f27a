// Text and JSON renderings of a SimResult (grace simulate).
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "grace/simulate.h"
#include "sim/layer_time_json.h"

namespace grace {

nlohmann::json layer_time_json(const LayerTime& t) {
  return {{"dispatch_us", t.dispatch_us},
          {"dispatch_inter_us", t.dispatch_inter_us},
          {"dispatch_intra_us", t.dispatch_intra_us},
          {"compute_us", t.compute_us},
          {"combine_us", t.combine_us},
          {"total_us", t.total_us},
          {"overlap_us", t.overlap_us},
          {"idle_share", t.idle_share}};
}

std::string format_sim(const SimResult& r) {
  std::string out;
  out += fmt::format("simulated MoE layers: {} comm, {} GPUs, {} batches of up to {} tokens ({} batching), {} layers\n",
                     comm_scheme_name(r.comm), r.num_gpus, r.num_batches, r.batch_tokens, batching_name(r.batching),
                     r.num_layers);
  out += fmt::format("{:>6} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>7}\n", "layer", "dispatch_us", "(inter)",
                     "compute_us", "combine_us", "total_us", "overlap_us", "idle%");
  auto row = [&](const std::string& name, const LayerTime& t) {
    out += fmt::format("{:>6} {:>11.1f} {:>11.1f} {:>11.1f} {:>11.1f} {:>11.1f} {:>11.1f} {:>6.1f}%\n", name,
                       t.dispatch_us, t.dispatch_inter_us, t.compute_us, t.combine_us, t.total_us, t.overlap_us,
                       100.0 * t.idle_share);
  };
  for (size_t l = 0; l < r.per_layer.size(); ++l) row(std::to_string(l), r.per_layer[l]);
  row("mean", r.mean_layer);
  out += fmt::format("MoE-layer time per batch (mean over layers): {:.1f} us without overlap, {:.1f} us with overlap\n",
                     r.mean_layer.total_us, r.mean_layer.overlap_us);
  out += fmt::format("all {} MoE layers of one batch: {:.3f} ms without overlap, {:.3f} ms with overlap\n",
                     r.num_layers, r.batch_total.total_us / 1e3, r.batch_total.overlap_us / 1e3);
  return out;
}

std::string sim_json(const SimResult& r) {
  nlohmann::json j;
  j["comm"] = comm_scheme_name(r.comm);
  j["num_gpus"] = r.num_gpus;
  j["num_layers"] = r.num_layers;
  j["num_batches"] = r.num_batches;
  j["batch_tokens"] = r.batch_tokens;
  j["batching"] = batching_name(r.batching);
  j["mean_layer"] = layer_time_json(r.mean_layer);
  j["batch_total"] = layer_time_json(r.batch_total);
  j["per_layer"] = nlohmann::json::array();
  for (const auto& t : r.per_layer) j["per_layer"].push_back(layer_time_json(t));
  return dump_json(j);
}

}  // namespace grace
