// A test-side model of what SGLang does with an --init-expert-location file, written from
// SGLang's documented behaviour (python/sglang/srt/eplb/expert_location.py,
// layers/moe/fused_moe_triton/layer.py), independently of grace's own checker:
//
//   1. the path ends in .json -> json.loads(file); the dict's keys are passed to
//      ExpertLocationMetadata.init_by_mapping(server_args, model_config, **dict);
//   2. _init_common: num_physical = num_logical + --ep-num-redundant-experts, assert
//      num_physical % ep_size == 0;
//   3. _compute_logical_to_all_physical_map: for every row and physical p, appends p to the
//      list of logical id map[row][p] (a list of num_logical lists: an id out of range fails);
//   4. num_local_physical_experts = map width / ep_size (assert divisible);
//   5. compute_logical_to_rank_dispatch_physical_map: per row and logical expert, draws from
//      its copies (an expert without copies divides by zero);
//   6. FusedMoE.weight_loader(layer_id = absolute decoder layer, expert e):
//      logical_to_all_physical(layer_id, e) -> physical ids, each < num_physical of the MoE
//      layer, which was built from the flags (num_logical + redundant).
// Returns "" when SGLang would load the file, else the first failure.
#ifndef GRACE_TESTS_PLACEMENT_SGLANG_HARNESS_H_
#define GRACE_TESTS_PLACEMENT_SGLANG_HARNESS_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace grace::testing {

struct SglangServer {
  int num_hidden_layers = 0;
  std::vector<int> moe_layer_ids;  // absolute ids of the decoder layers that have FusedMoE
  int num_logical = 0;
  int ep_num_redundant_experts = 0;
  int ep_size = 1;
};

inline std::string sglang_load(const std::string& path, const std::string& text, const SglangServer& s) {
  if (path.size() < 5 || path.substr(path.size() - 5) != ".json") return "path does not end in .json";
  nlohmann::json d = nlohmann::json::parse(text, nullptr, false);
  if (d.is_discarded() || !d.is_object()) return "not a JSON object";
  for (auto it = d.begin(); it != d.end(); ++it)
    if (it.key() != "physical_to_logical_map") return "init_by_mapping() got an unexpected keyword " + it.key();
  if (!d.contains("physical_to_logical_map")) return "init_by_mapping() missing physical_to_logical_map";
  const int num_physical = s.num_logical + s.ep_num_redundant_experts;
  if (num_physical % s.ep_size != 0) return "assert num_physical_experts % ep_size == 0";
  const auto& m = d["physical_to_logical_map"];
  if (!m.is_array() || m.empty() || !m[0].is_array()) return "torch.tensor: not a 2-D integer array";
  const size_t width = m[0].size();
  std::vector<std::vector<std::vector<int>>> l2p(m.size(), std::vector<std::vector<int>>(size_t(s.num_logical)));
  for (size_t r = 0; r < m.size(); ++r) {
    if (!m[r].is_array() || m[r].size() != width) return "torch.tensor: ragged rows";
    for (size_t p = 0; p < width; ++p) {
      if (!m[r][p].is_number_integer()) return "torch.tensor: non-integer entry";
      const long long e = m[r][p].get<long long>();
      if (e < 0 || e >= s.num_logical) return "IndexError: logical id out of range in row " + std::to_string(r);
      l2p[r][size_t(e)].push_back(int(p));
    }
  }
  if (width % size_t(s.ep_size) != 0) return "assert remainder == 0 (num_local_physical_experts)";
  for (size_t r = 0; r < m.size(); ++r)
    for (int e = 0; e < s.num_logical; ++e)
      if (l2p[r][size_t(e)].empty()) return "ZeroDivisionError: expert without copies in row " + std::to_string(r);
  for (int layer_id : s.moe_layer_ids) {
    if (layer_id >= int(m.size()))
      return "IndexError: index " + std::to_string(layer_id) + " is out of bounds for dimension 0 with size " +
             std::to_string(m.size());
    for (int e = 0; e < s.num_logical; ++e)
      for (int p : l2p[size_t(layer_id)][size_t(e)])
        if (p >= num_physical) return "physical id " + std::to_string(p) + " beyond the layer's experts";
  }
  if (int(width) != num_physical) return "map width differs from num_logical + ep_num_redundant_experts";
  if (int(m.size()) != s.num_hidden_layers) return "rows differ from num_hidden_layers";
  return "";
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_PLACEMENT_SGLANG_HARNESS_H_
