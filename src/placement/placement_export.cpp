// grace export's formats and their import (placement_io.h, serving.h, docs/formats.md).
//
// Import: copies of an expert on one GPU collapse into one instance; weights become equal
// shares; instances come in physical order (lowest GPU first), so the primary may differ from
// the exported placement's. Dense-layer rows of an SGLang file are dropped.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement_io.h"
#include "grace/serving.h"
#include "placement/json_rows.h"

namespace grace {
namespace {

using nlohmann::json;

// Reads a [rows][n] array of ints; n is checked to be equal across rows.
std::vector<std::vector<int64_t>> read_matrix(const json& m, const std::string& what, const std::string& src) {
  GRACE_INPUT_CHECK(m.is_array() && !m.empty(), "placement export '{}': {} must be a non-empty array of layers", src,
                    what);
  std::vector<std::vector<int64_t>> out;
  for (size_t l = 0; l < m.size(); ++l) {
    const json& row = m[l];
    GRACE_INPUT_CHECK(row.is_array(), "placement export '{}': {}[{}] must be an array", src, what, l);
    GRACE_INPUT_CHECK(l == 0 || row.size() == out[0].size(),
                      "placement export '{}': {}[{}] has {} entries, layer 0 "
                      "has {}",
                      src, what, l, row.size(), out[0].size());
    std::vector<int64_t> r;
    for (size_t i = 0; i < row.size(); ++i) {
      GRACE_INPUT_CHECK(row[i].is_number_integer(), "placement export '{}': {}[{}][{}] is {}, expected an integer", src,
                        what, l, i, dump_json(row[i]));
      r.push_back(row[i].get<int64_t>());
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

ExportFormat parse_export_format(const std::string& name) {
  if (name == "sglang") return ExportFormat::kSglang;
  if (name == "sglang-dispatch") return ExportFormat::kSglangDispatch;
  if (name == "vllm") return ExportFormat::kVllm;
  fail_input("unknown export format '{}' (sglang, sglang-dispatch, vllm)", name);
}

std::string export_vllm_initial_map(const Placement& p) {
  const PhysicalLayout lay = physical_layout(p);
  std::string s;
  detail::append_int_matrix(s, lay.phy2log.data(), lay.num_layers, lay.num_physical(), " ");
  return s + "\n";
}

std::string export_placement(const Placement& p, ExportFormat fmt, const ModelSpec& model) {
  if (fmt == ExportFormat::kSglang) return export_sglang(p, model).json;
  if (fmt == ExportFormat::kSglangDispatch) return export_sglang_dispatch(p, model);
  return export_vllm_initial_map(p);
}

Placement import_placement(const std::string& text, ExportFormat fmt, int nodes, int gpus_per_node,
                           const std::string& source, int dense_layers) {
  const std::string& src = source;
  GRACE_INPUT_CHECK(nodes >= 1 && gpus_per_node >= 1, "import '{}': bad topology {}x{}", src, nodes, gpus_per_node);
  GRACE_INPUT_CHECK(fmt != ExportFormat::kSglangDispatch, "import '{}': a dispatch map holds no placement", src);
  const json j = parse_json_text(text, fmt::format("placement export '{}'", src));
  std::vector<std::vector<int64_t>> phy;
  if (fmt == ExportFormat::kSglang) {
    GRACE_INPUT_CHECK(j.is_object(), "placement export '{}': expected a JSON object", src);
    GRACE_INPUT_CHECK(j.contains("physical_to_logical_map"), "placement export '{}': missing 'physical_to_logical_map'",
                      src);
    phy = read_matrix(j["physical_to_logical_map"], "physical_to_logical_map", src);
    GRACE_INPUT_CHECK(dense_layers >= 0 && int(phy.size()) > dense_layers,
                      "placement export '{}': {} rows, not more "
                      "than the {} dense layers",
                      src, phy.size(), dense_layers);
    phy.erase(phy.begin(), phy.begin() + dense_layers);
  } else {
    GRACE_INPUT_CHECK(j.is_array(), "placement export '{}': a vLLM initial expert map is a JSON array of layers", src);
    phy = read_matrix(j, "map", src);
  }
  const int G = nodes * gpus_per_node;
  const int64_t P = int64_t(phy[0].size());
  GRACE_INPUT_CHECK(P >= G && P % G == 0, "placement export '{}': {} physical experts do not divide over {} GPUs", src,
                    P, G);
  const int S = int(P / G);
  const int L = int(phy.size());
  int E = 0;
  for (int l = 0; l < L; ++l)
    for (int64_t q = 0; q < P; ++q) {
      const int64_t e = phy[size_t(l)][size_t(q)];
      GRACE_INPUT_CHECK(e >= 0 && e < 65536,
                        "placement export '{}': layer {}, physical expert {}: logical id {} is "
                        "out of range",
                        src, l, q, e);
      E = std::max(E, int(e) + 1);
    }
  Placement p;
  p.policy = fmt == ExportFormat::kSglang ? "imported-sglang" : "imported-vllm";
  p.nodes = nodes;
  p.gpus_per_node = gpus_per_node;
  p.slots_per_gpu = S;
  p.num_layers = L;
  p.num_experts = E;
  p.layers.resize(size_t(L));
  for (int l = 0; l < L; ++l) {
    auto& experts = p.layers[size_t(l)].experts;
    experts.resize(size_t(E));
    for (int64_t q = 0; q < P; ++q) {
      const int g = int(q / S);
      auto& inst = experts[size_t(phy[size_t(l)][size_t(q)])].instances;
      if (std::none_of(inst.begin(), inst.end(), [g](const Instance& in) { return in.gpu == g; }))
        inst.push_back({g, 1.0});
    }
    for (int e = 0; e < E; ++e) {
      auto& inst = experts[size_t(e)].instances;
      GRACE_INPUT_CHECK(!inst.empty(), "placement export '{}': layer {}, expert {}: no physical slot holds it", src, l,
                        e);
      for (auto& in : inst) in.weight = 1.0 / double(inst.size());
    }
  }
  return p;
}

}  // namespace grace
