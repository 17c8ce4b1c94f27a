// grace placement JSON, version 1 (see placement_io.h and docs/formats.md).
//
// Writing: one expert per line, doubles in shortest round-trip form, so parse(write(p)) == p
// exactly. Reading: every error names the source and the place ("layers[3].experts[17]").
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "core/atomic_file.h"
#include "core/cost_limits.h"
#include "core/json_file.h"
#include "grace/error.h"
#include "grace/placement_io.h"

namespace grace {
namespace {

using nlohmann::json;

constexpr const char* kFormatName = "grace-placement";

std::string quote(const std::string& s) { return dump_json(json(s)); }

// fmt's "{}" for double is the shortest representation that reads back to the same value.
std::string num(double d) {
  std::string s = fmt::format("{}", d);
  return s;
}

}  // namespace

std::string placement_to_json(const Placement& p) {
  std::string out;
  out += fmt::format("{{\"format\": \"{}\", \"version\": {},\n", kFormatName, Placement::kFormatVersion);
  out += fmt::format(" \"model\": {}, \"policy\": {}, \"seed\": {},\n", quote(p.model), quote(p.policy), p.seed);
  out += fmt::format(" \"topology\": {{\"nodes\": {}, \"gpus_per_node\": {}, \"slots_per_gpu\": {}}},\n", p.nodes,
                     p.gpus_per_node, p.slots_per_gpu);
  out += fmt::format(" \"num_layers\": {}, \"num_experts\": {},\n \"layers\": [", p.num_layers, p.num_experts);
  for (size_t l = 0; l < p.layers.size(); ++l) {
    out += l ? ",\n  {\"experts\": [" : "\n  {\"experts\": [";
    const auto& experts = p.layers[l].experts;
    for (size_t e = 0; e < experts.size(); ++e) {
      std::string gpus, weights;
      for (size_t i = 0; i < experts[e].instances.size(); ++i) {
        if (i) gpus += ", ", weights += ", ";
        gpus += std::to_string(experts[e].instances[i].gpu);
        weights += num(experts[e].instances[i].weight);
      }
      out += fmt::format("{}\n    {{\"instances\": [{}], \"weights\": [{}]}}", e ? "," : "", gpus, weights);
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

namespace {

Placement from_json_value(const nlohmann::json& j, const std::string& source) {
  const std::string who = "placement " + quote_input(source);
  GRACE_INPUT_CHECK(j.is_object(), "{}: expected a JSON object", who);
  check_keys(j, {"format", "version", "model", "policy", "seed", "topology", "num_layers", "num_experts", "layers"},
             who);
  GRACE_INPUT_CHECK(j.contains("format"), "{}: missing field 'format'", who);
  GRACE_INPUT_CHECK(j["format"].is_string() && j["format"].get<std::string>() == kFormatName,
                    "{}: format is {}, expected \"{}\"", who, json_excerpt(j["format"]), kFormatName);
  const int64_t version = json_int(j, "version", INT64_MIN, INT64_MAX, who);
  GRACE_INPUT_CHECK(version == Placement::kFormatVersion,
                    "{}: version {} is not supported (this grace reads version {})", who, version,
                    Placement::kFormatVersion);
  Placement p;
  p.model = json_string(j, "model", who, "", false);
  p.policy = json_string(j, "policy", who, "", false);
  if (j.contains("seed")) {
    const json& seed = j["seed"];
    GRACE_INPUT_CHECK(seed.is_number_unsigned() || (seed.is_number_integer() && seed.get<int64_t>() >= 0),
                      "{}: 'seed' must be a non-negative integer, got {}", who, json_excerpt(seed));
    p.seed = seed.get<uint64_t>();
  }
  GRACE_INPUT_CHECK(j.contains("topology"), "{}: missing field 'topology'", who);
  const json& topo = j["topology"];
  check_keys(topo, {"nodes", "gpus_per_node", "slots_per_gpu"}, who, "topology: ");
  p.nodes = int(json_int(topo, "nodes", 1, 65536, who, "topology: "));
  p.gpus_per_node = int(json_int(topo, "gpus_per_node", 1, 1024, who, "topology: "));
  GRACE_INPUT_CHECK(int64_t(p.nodes) * p.gpus_per_node <= 65536, "{}: topology has more than 65536 GPUs", who);
  p.slots_per_gpu = int(json_int(topo, "slots_per_gpu", 1, 65536, who, "topology: "));
  p.num_layers = int(json_int(j, "num_layers", 1, 4096, who));
  p.num_experts = int(json_int(j, "num_experts", 1, 65535, who));
  // What the placement costs to hold and export, before anything is allocated for it.
  check_count(who, {{"layers", p.num_layers}, {"GPUs", p.num_gpus()}, {"slots per GPU", p.slots_per_gpu}},
              kMaxPhysicalSlots, "physical expert slots");
  check_count(who, {{"layers", p.num_layers}, {"GPUs", p.num_gpus()}, {"experts", p.num_experts}}, kMaxGpuExpertLayers,
              "per-GPU expert tables");
  GRACE_INPUT_CHECK(j.contains("layers"), "{}: missing field 'layers'", who);
  const json& layers = j["layers"];
  GRACE_INPUT_CHECK(layers.is_array() && int64_t(layers.size()) == p.num_layers,
                    "{}: 'layers' must be an array of num_layers = {} entries, got {}", who, p.num_layers,
                    json_excerpt(layers));
  const int G = p.num_gpus();
  p.layers.resize(size_t(p.num_layers));
  for (int l = 0; l < p.num_layers; ++l) {
    const json& lj = layers[size_t(l)];
    const std::string lwhere = fmt::format("layers[{}]: ", l);
    check_keys(lj, {"experts"}, who, lwhere);
    GRACE_INPUT_CHECK(lj.contains("experts"), "{}: {}missing field 'experts'", who, lwhere);
    const json& ej = lj["experts"];
    GRACE_INPUT_CHECK(ej.is_array() && int64_t(ej.size()) == p.num_experts,
                      "{}: layer {}: 'experts' must be an array of num_experts = {} entries, got {}", who, l,
                      p.num_experts, json_excerpt(ej));
    auto& experts = p.layers[size_t(l)].experts;
    experts.resize(size_t(p.num_experts));
    for (int e = 0; e < p.num_experts; ++e) {
      const json& x = ej[size_t(e)];
      const std::string where = fmt::format("layer {}, expert {}: ", l, e);
      check_keys(x, {"instances", "weights"}, who, where);
      GRACE_INPUT_CHECK(x.contains("instances"), "{}: {}missing field 'instances'", who, where);
      const json& inst = x["instances"];
      GRACE_INPUT_CHECK(inst.is_array() && !inst.empty() && int64_t(inst.size()) <= G,
                        "{}: {}'instances' must be a non-empty array of at most {} GPU ids (every expert must be "
                        "placed, at most once per GPU), got {}",
                        who, where, G, json_excerpt(inst));
      auto wit = x.find("weights");
      GRACE_INPUT_CHECK(wit == x.end() || (wit->is_array() && wit->size() == inst.size()),
                        "{}: {}'weights' must be an array with one weight per instance", who, where);
      auto& out = experts[size_t(e)].instances;
      out.resize(inst.size());
      double sum = 0;
      for (size_t i = 0; i < inst.size(); ++i) {
        GRACE_INPUT_CHECK(inst[i].is_number_integer(), "{}: {}instance {} is {}, expected a GPU id", who, where, i,
                          json_excerpt(inst[i]));
        const int64_t g = inst[i].is_number_unsigned() && inst[i].get<uint64_t>() > uint64_t(INT64_MAX)
                              ? INT64_MAX
                              : inst[i].get<int64_t>();
        GRACE_INPUT_CHECK(g >= 0 && g < G, "{}: {}instance on GPU {} but the topology has {} GPUs", who, where, g, G);
        for (size_t k = 0; k < i; ++k)
          GRACE_INPUT_CHECK(out[k].gpu != g, "{}: {}two instances on GPU {}", who, where, g);
        out[i].gpu = int(g);
        if (wit == x.end()) {
          out[i].weight = 1.0 / double(inst.size());
        } else {
          const json& w = (*wit)[i];
          GRACE_INPUT_CHECK(w.is_number(), "{}: {}weight {} is {}, expected a number", who, where, i, json_excerpt(w));
          out[i].weight = w.get<double>();
          GRACE_INPUT_CHECK(std::isfinite(out[i].weight) && out[i].weight > 0, "{}: {}weight {} = {} must be positive",
                            who, where, i, out[i].weight);
        }
        sum += out[i].weight;
      }
      GRACE_INPUT_CHECK(std::abs(sum - 1.0) <= 1e-6, "{}: {}weights sum to {} instead of 1", who, where, sum);
    }
  }
  return p;
}

}  // namespace

Placement placement_from_json(const std::string& text, const std::string& source) {
  return from_json_value(parse_json_text(text, "placement " + quote_input(source)), source);
}

void save_placement(const Placement& p, const std::string& path) { write_file_atomic(path, placement_to_json(p)); }

Placement load_placement(const std::string& path) {
  return from_json_value(read_json_file(path, "placement " + quote_input(path)), path);
}

}  // namespace grace
