// grace placement JSON, version 1 (see placement_io.h and docs/formats.md).
//
// Writing: one expert per line, doubles in shortest round-trip form, so parse(write(p)) == p
// exactly. Reading: every error names the source and the place ("layers[3].experts[17]").
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "core/atomic_file.h"
#include "grace/error.h"
#include "grace/placement_io.h"

namespace grace {
namespace {

using nlohmann::json;

constexpr const char* kFormatName = "grace-placement";

std::string quote(const std::string& s) { return json(s).dump(); }

// fmt's "{}" for double is the shortest representation that reads back to the same value.
std::string num(double d) {
  std::string s = fmt::format("{}", d);
  return s;
}

const json& field(const json& obj, const char* key, const std::string& where, const std::string& src) {
  auto it = obj.find(key);
  GRACE_INPUT_CHECK(it != obj.end(), "placement '{}': {}missing field '{}'", src, where, key);
  return *it;
}

int64_t int_field(const json& obj, const char* key, const std::string& where, const std::string& src,
                  int64_t lo, int64_t hi) {
  const json& v = field(obj, key, where, src);
  GRACE_INPUT_CHECK(v.is_number_integer(), "placement '{}': {}field '{}' must be an integer, got {}", src, where,
                    key, v.dump());
  const int64_t x = v.is_number_unsigned() ? int64_t(std::min<uint64_t>(v.get<uint64_t>(), uint64_t(INT64_MAX)))
                                           : v.get<int64_t>();
  GRACE_INPUT_CHECK(x >= lo && x <= hi, "placement '{}': {}field '{}' = {} is outside [{}, {}]", src, where, key, x,
                    lo, hi);
  return x;
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

Placement placement_from_json(const std::string& text, const std::string& source) {
  const std::string& src = source;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail_input("placement '{}': not valid JSON: {}", src, e.what());
  }
  GRACE_INPUT_CHECK(j.is_object(), "placement '{}': expected a JSON object", src);
  const json& fmt_name = field(j, "format", "", src);
  GRACE_INPUT_CHECK(fmt_name.is_string() && fmt_name.get<std::string>() == kFormatName,
                    "placement '{}': format is {}, expected \"{}\"", src, fmt_name.dump(), kFormatName);
  const int64_t version = int_field(j, "version", "", src, INT64_MIN, INT64_MAX);
  GRACE_INPUT_CHECK(version == Placement::kFormatVersion,
                    "placement '{}': version {} is not supported (this grace reads version {})", src, version,
                    Placement::kFormatVersion);
  Placement p;
  for (const char* key : {"model", "policy"}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    GRACE_INPUT_CHECK(it->is_string(), "placement '{}': field '{}' must be a string", src, key);
    (std::string(key) == "model" ? p.model : p.policy) = it->get<std::string>();
  }
  if (j.contains("seed")) {
    GRACE_INPUT_CHECK(j["seed"].is_number_unsigned() || (j["seed"].is_number_integer() && j["seed"].get<int64_t>() >= 0),
                      "placement '{}': field 'seed' must be a non-negative integer", src);
    p.seed = j["seed"].get<uint64_t>();
  }
  const json& topo = field(j, "topology", "", src);
  GRACE_INPUT_CHECK(topo.is_object(), "placement '{}': field 'topology' must be an object", src);
  p.nodes = int(int_field(topo, "nodes", "topology: ", src, 1, 65536));
  p.gpus_per_node = int(int_field(topo, "gpus_per_node", "topology: ", src, 1, 1024));
  GRACE_INPUT_CHECK(int64_t(p.nodes) * p.gpus_per_node <= 65536, "placement '{}': topology has more than 65536 GPUs",
                    src);
  p.slots_per_gpu = int(int_field(topo, "slots_per_gpu", "topology: ", src, 1, 65536));
  p.num_layers = int(int_field(j, "num_layers", "", src, 1, 4096));
  p.num_experts = int(int_field(j, "num_experts", "", src, 1, 65535));
  const json& layers = field(j, "layers", "", src);
  GRACE_INPUT_CHECK(layers.is_array() && int(layers.size()) == p.num_layers,
                    "placement '{}': 'layers' must be an array of num_layers = {} entries", src, p.num_layers);
  const int G = p.num_gpus();
  p.layers.resize(size_t(p.num_layers));
  for (int l = 0; l < p.num_layers; ++l) {
    const json& lj = layers[size_t(l)];
    const std::string lwhere = fmt::format("layers[{}]: ", l);
    GRACE_INPUT_CHECK(lj.is_object(), "placement '{}': {}expected an object", src, lwhere);
    const json& ej = field(lj, "experts", lwhere, src);
    GRACE_INPUT_CHECK(ej.is_array() && int(ej.size()) == p.num_experts,
                      "placement '{}': layer {}: 'experts' must be an array of num_experts = {} entries", src, l,
                      p.num_experts);
    auto& experts = p.layers[size_t(l)].experts;
    experts.resize(size_t(p.num_experts));
    for (int e = 0; e < p.num_experts; ++e) {
      const json& x = ej[size_t(e)];
      const std::string where = fmt::format("layer {}, expert {}: ", l, e);
      GRACE_INPUT_CHECK(x.is_object(), "placement '{}': {}expected an object", src, where);
      const json& inst = field(x, "instances", where, src);
      GRACE_INPUT_CHECK(inst.is_array() && !inst.empty(),
                        "placement '{}': {}'instances' must be a non-empty array of GPU ids (every expert must be "
                        "placed)", src, where);
      auto wit = x.find("weights");
      GRACE_INPUT_CHECK(wit == x.end() || (wit->is_array() && wit->size() == inst.size()),
                        "placement '{}': {}'weights' must be an array with one weight per instance", src, where);
      auto& out = experts[size_t(e)].instances;
      out.resize(inst.size());
      double sum = 0;
      for (size_t i = 0; i < inst.size(); ++i) {
        GRACE_INPUT_CHECK(inst[i].is_number_integer(), "placement '{}': {}instance {} is {}, expected a GPU id", src,
                          where, i, inst[i].dump());
        const int64_t g = inst[i].get<int64_t>();
        GRACE_INPUT_CHECK(g >= 0 && g < G, "placement '{}': {}instance on GPU {} but the topology has {} GPUs", src,
                          where, g, G);
        for (size_t k = 0; k < i; ++k)
          GRACE_INPUT_CHECK(out[k].gpu != g, "placement '{}': {}two instances on GPU {}", src, where, g);
        out[i].gpu = int(g);
        if (wit == x.end()) {
          out[i].weight = 1.0 / double(inst.size());
        } else {
          const json& w = (*wit)[i];
          GRACE_INPUT_CHECK(w.is_number(), "placement '{}': {}weight {} is {}, expected a number", src, where, i,
                            w.dump());
          out[i].weight = w.get<double>();
          GRACE_INPUT_CHECK(std::isfinite(out[i].weight) && out[i].weight > 0,
                            "placement '{}': {}weight {} = {} must be positive", src, where, i, out[i].weight);
        }
        sum += out[i].weight;
      }
      GRACE_INPUT_CHECK(std::abs(sum - 1.0) <= 1e-6, "placement '{}': {}weights sum to {} instead of 1", src, where,
                        sum);
    }
  }
  return p;
}

void save_placement(const Placement& p, const std::string& path) { write_file_atomic(path, placement_to_json(p)); }

Placement load_placement(const std::string& path) { return placement_from_json(read_file(path), path); }

}  // namespace grace
