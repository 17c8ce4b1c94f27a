// Exports to serving systems and imports back (see placement_io.h and docs/formats.md).
//
// Physical layout (both formats): num_physical = num_gpus x slots_per_gpu; physical expert p
// lives on GPU p / slots_per_gpu. A GPU's slots hold Placement::gpu_slots(layer) in order
// (primaries, then replicas). Serving systems need every physical slot filled: an empty slot
// gets one more copy of an expert the same GPU already hosts (cycling through them in slot
// order), which changes nothing (a same-GPU duplicate neither moves bytes nor load off the
// GPU). A GPU hosting no expert at all gets copies of its node's experts (else any), and those
// ARE real extra replicas; grace planners do not leave GPUs empty.
//
// Import: duplicates of an expert on one GPU collapse into one instance; weights become equal
// shares. vLLM keeps instance order (logical_to_physical_map lists the primary first); the
// SGLang map has no order per expert, so imported instances come in physical order.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "grace/error.h"
#include "grace/placement_io.h"

namespace grace {
namespace {

using nlohmann::json;

struct Physical {
  std::vector<std::vector<int>> phy2log;  // [layer][num_physical]
  // [layer][expert]: physical ids, in instance order then padding copies
  std::vector<std::vector<std::vector<int>>> log2phy;
};

Physical to_physical(const Placement& p) {
  const int G = p.num_gpus(), S = p.slots_per_gpu;
  GRACE_INPUT_CHECK(S >= 1, "export: placement has slots_per_gpu = {}", S);
  Physical out;
  for (int l = 0; l < p.num_layers; ++l) {
    const auto& experts = p.layers[size_t(l)].experts;
    auto slots = p.gpu_slots(l);
    std::vector<int> phy(size_t(G) * S, -1);
    // Position of each (expert, gpu) in the physical order, to list the primary first.
    std::vector<std::vector<int>> first_phys(experts.size());
    for (int g = 0; g < G; ++g) {
      auto& hosted = slots[size_t(g)];
      GRACE_INPUT_CHECK(int(hosted.size()) <= S, "export: layer {}, GPU {}: {} instances do not fit in {} slots", l,
                        g, hosted.size(), S);
      std::vector<int> fill = hosted;
      if (fill.empty()) {  // a GPU with no expert: borrow its node's experts, else everyone's
        const int node = g / p.gpus_per_node;
        for (int h = node * p.gpus_per_node; h < (node + 1) * p.gpus_per_node; ++h)
          for (int e : slots[size_t(h)])
            if (std::find(fill.begin(), fill.end(), e) == fill.end()) fill.push_back(e);
        if (fill.empty())
          for (int e = 0; e < int(experts.size()); ++e) fill.push_back(e);
      }
      for (int s = 0; s < S; ++s) {
        const int e = s < int(hosted.size()) ? hosted[size_t(s)] : fill[size_t(s - int(hosted.size())) % fill.size()];
        phy[size_t(g) * S + s] = e;
      }
    }
    std::vector<std::vector<int>> l2p(experts.size());
    for (size_t e = 0; e < experts.size(); ++e)
      for (const auto& in : experts[e].instances)
        for (int s = 0; s < S; ++s)
          if (phy[size_t(in.gpu) * S + s] == int(e)) {
            l2p[e].push_back(in.gpu * S + s);
            break;
          }
    for (int q = 0; q < G * S; ++q) {
      auto& list = l2p[size_t(phy[size_t(q)])];
      if (std::find(list.begin(), list.end(), q) == list.end()) list.push_back(q);
    }
    out.phy2log.push_back(std::move(phy));
    out.log2phy.push_back(std::move(l2p));
  }
  return out;
}

template <typename Row>
std::string int_row(const Row& row) {
  std::string s = "[";
  for (size_t i = 0; i < row.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(row[i]);
  }
  return s + "]";
}

std::string nested(const std::vector<std::vector<int>>& rows, const char* indent) {
  std::string s = "[";
  for (size_t i = 0; i < rows.size(); ++i) {
    s += i ? ",\n" : "\n";
    s += indent;
    s += int_row(rows[i]);
  }
  return s + "]";
}

// Reads a [layers][n] array of ints; n is checked to be equal across layers.
std::vector<std::vector<int64_t>> read_matrix(const json& j, const char* key, const std::string& src) {
  auto it = j.find(key);
  GRACE_INPUT_CHECK(it != j.end(), "placement export '{}': missing '{}'", src, key);
  GRACE_INPUT_CHECK(it->is_array() && !it->empty(), "placement export '{}': '{}' must be a non-empty array of layers",
                    src, key);
  std::vector<std::vector<int64_t>> out;
  for (size_t l = 0; l < it->size(); ++l) {
    const json& row = (*it)[l];
    GRACE_INPUT_CHECK(row.is_array(), "placement export '{}': {}[{}] must be an array", src, key, l);
    GRACE_INPUT_CHECK(l == 0 || row.size() == out[0].size(), "placement export '{}': {}[{}] has {} entries, layer 0 "
                      "has {}", src, key, l, row.size(), out[0].size());
    std::vector<int64_t> r;
    for (size_t i = 0; i < row.size(); ++i) {
      GRACE_INPUT_CHECK(row[i].is_number_integer(), "placement export '{}': {}[{}][{}] is {}, expected an integer",
                        src, key, l, i, row[i].dump());
      r.push_back(row[i].get<int64_t>());
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

ExportFormat parse_export_format(const std::string& name) {
  if (name == "sglang") return ExportFormat::kSglang;
  if (name == "vllm") return ExportFormat::kVllm;
  fail_input("unknown export format '{}' (sglang, vllm)", name);
}

std::string export_placement(const Placement& p, ExportFormat fmt) {
  Physical phys = to_physical(p);
  if (fmt == ExportFormat::kSglang)
    return "{\"physical_to_logical_map\": " + nested(phys.phy2log, "  ") + "}\n";
  size_t max_rep = 1;
  for (const auto& layer : phys.log2phy)
    for (const auto& list : layer) max_rep = std::max(max_rep, list.size());
  std::string l2p = "[", counts = "[";
  for (size_t l = 0; l < phys.log2phy.size(); ++l) {
    std::vector<std::vector<int>> padded;
    std::vector<int> cnt;
    for (auto list : phys.log2phy[l]) {
      cnt.push_back(int(list.size()));
      list.resize(max_rep, -1);
      padded.push_back(std::move(list));
    }
    l2p += l ? ",\n  " : "\n  ";
    l2p += nested(padded, "    ");
    counts += l ? ",\n  " : "\n  ";
    counts += int_row(cnt);
  }
  return "{\"physical_to_logical_map\": " + nested(phys.phy2log, "  ") + ",\n \"logical_to_physical_map\": " + l2p +
         "],\n \"logical_replica_count\": " + counts + "]}\n";
}

Placement import_placement(const std::string& text, ExportFormat fmt, int nodes, int gpus_per_node,
                           const std::string& source) {
  const std::string& src = source;
  GRACE_INPUT_CHECK(nodes >= 1 && gpus_per_node >= 1, "import '{}': bad topology {}x{}", src, nodes, gpus_per_node);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail_input("placement export '{}': not valid JSON: {}", src, e.what());
  }
  GRACE_INPUT_CHECK(j.is_object(), "placement export '{}': expected a JSON object", src);
  auto phy = read_matrix(j, "physical_to_logical_map", src);
  const int G = nodes * gpus_per_node;
  const int64_t P = int64_t(phy[0].size());
  GRACE_INPUT_CHECK(P >= G && P % G == 0, "placement export '{}': {} physical experts do not divide over {} GPUs",
                    src, P, G);
  const int S = int(P / G);
  const int L = int(phy.size());
  int E = 0;
  for (int l = 0; l < L; ++l)
    for (int64_t q = 0; q < P; ++q) {
      const int64_t e = phy[size_t(l)][size_t(q)];
      GRACE_INPUT_CHECK(e >= 0 && e < 65536, "placement export '{}': layer {}, physical expert {}: logical id {} is "
                        "out of range", src, l, q, e);
      E = std::max(E, int(e) + 1);
    }
  std::vector<std::vector<int64_t>> counts;
  std::vector<std::vector<std::vector<int64_t>>> l2p;
  if (fmt == ExportFormat::kVllm) {
    counts = read_matrix(j, "logical_replica_count", src);
    GRACE_INPUT_CHECK(int(counts.size()) == L, "placement export '{}': logical_replica_count has {} layers, "
                      "physical_to_logical_map {}", src, counts.size(), L);
    E = std::max(E, int(counts[0].size()));
    auto it = j.find("logical_to_physical_map");
    GRACE_INPUT_CHECK(it != j.end() && it->is_array() && int(it->size()) == L,
                      "placement export '{}': 'logical_to_physical_map' must be an array of {} layers", src, L);
    for (int l = 0; l < L; ++l) {
      std::string key = fmt::format("logical_to_physical_map[{}]", l);
      l2p.push_back(read_matrix(json{{key, (*it)[size_t(l)]}}, key.c_str(), src));
      GRACE_INPUT_CHECK(int(l2p.back().size()) == E && int(counts[size_t(l)].size()) == E,
                        "placement export '{}': layer {}: maps list {} and {} logical experts, expected {}", src, l,
                        l2p.back().size(), counts[size_t(l)].size(), E);
    }
  }
  Placement p;
  p.model = "";
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
    auto add = [&](int e, int64_t q) {
      const int g = int(q / S);
      auto& inst = experts[size_t(e)].instances;
      for (const auto& in : inst)
        if (in.gpu == g) return;
      inst.push_back({g, 1.0});
    };
    if (fmt == ExportFormat::kVllm) {
      for (int e = 0; e < E; ++e) {
        const auto& row = l2p[size_t(l)][size_t(e)];
        const int64_t c = counts[size_t(l)][size_t(e)];
        GRACE_INPUT_CHECK(c >= 1 && c <= int64_t(row.size()), "placement export '{}': layer {}, expert {}: "
                          "logical_replica_count {} is out of range", src, l, e, c);
        for (int64_t r = 0; r < int64_t(row.size()); ++r) {
          const int64_t q = row[size_t(r)];
          if (r >= c) {
            GRACE_INPUT_CHECK(q == -1, "placement export '{}': layer {}, expert {}: entry {} beyond the replica "
                              "count must be -1", src, l, e, r);
            continue;
          }
          GRACE_INPUT_CHECK(q >= 0 && q < P && phy[size_t(l)][size_t(q)] == e, "placement export '{}': layer {}, "
                            "expert {}: physical expert {} does not hold it", src, l, e, q);
          add(e, q);
        }
      }
    }
    for (int64_t q = 0; q < P; ++q) {
      const int e = int(phy[size_t(l)][size_t(q)]);
      if (fmt == ExportFormat::kVllm) {
        const auto& row = l2p[size_t(l)][size_t(e)];
        GRACE_INPUT_CHECK(std::find(row.begin(), row.end(), q) != row.end(), "placement export '{}': layer {}: "
                          "physical expert {} holds expert {} but is not in its logical_to_physical_map", src, l, q, e);
      }
      add(e, q);
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
