// check_sglang_file (serving.h): an --init-expert-location file checked the way SGLang uses it
// (python/sglang/srt/eplb/expert_location.py: compute_initial_expert_location_metadata passes
// the dict's keys to init_by_mapping as arguments; num_physical_experts comes from the flags
// as num_logical + ep_num_redundant_experts and must divide by ep_size; the map is indexed by
// absolute decoder layer id and by logical id when building logical_to_all_physical_map; the
// static dispatch draws from each logical expert's copies, so each needs one).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "grace/error.h"
#include "grace/model.h"
#include "grace/serving.h"

namespace grace {

SglangFileCheck check_sglang_file(const std::string& text, const ModelSpec& model, int ep_size, int redundant,
                                  const std::string& source) {
  const std::string& src = source;
  const nlohmann::json j = parse_json_text(text, fmt::format("sglang file '{}'", src));
  GRACE_INPUT_CHECK(j.is_object(), "sglang file '{}': expected a JSON object", src);
  for (auto it = j.begin(); it != j.end(); ++it)
    GRACE_INPUT_CHECK(it.key() == "physical_to_logical_map",
                      "sglang file '{}': unexpected key '{}' (SGLang passes "
                      "every key to init_by_mapping, which takes only 'physical_to_logical_map')",
                      src, it.key());
  GRACE_INPUT_CHECK(j.contains("physical_to_logical_map"), "sglang file '{}': missing 'physical_to_logical_map'", src);
  const auto& m = j["physical_to_logical_map"];
  const int want_rows = model.dense_layers + model.moe_layers, E = model.experts;
  GRACE_INPUT_CHECK(m.is_array(), "sglang file '{}': 'physical_to_logical_map' must be an array of rows", src);
  GRACE_INPUT_CHECK(int(m.size()) == want_rows,
                    "sglang file '{}': {} rows but model '{}' has {} decoder layers ({} "
                    "dense + {} MoE); SGLang indexes rows by absolute layer id",
                    src, m.size(), model.name, want_rows, model.dense_layers, model.moe_layers);
  GRACE_INPUT_CHECK(ep_size >= 1, "sglang file '{}': ep_size {} must be >= 1", src, ep_size);
  SglangFileCheck out;
  out.num_layers = want_rows;
  out.ep_size = ep_size;
  for (int l = 0; l < want_rows; ++l) {
    const auto& row = m[size_t(l)];
    GRACE_INPUT_CHECK(row.is_array(), "sglang file '{}': row {} must be an array", src, l);
    if (l == 0) {
      out.num_physical = int(row.size());
      out.redundant = redundant >= 0 ? redundant : out.num_physical - E;
      GRACE_INPUT_CHECK(out.redundant >= 0, "sglang file '{}': {} columns, fewer than the model's {} experts", src,
                        out.num_physical, E);
      GRACE_INPUT_CHECK(out.num_physical == E + out.redundant,
                        "sglang file '{}': {} columns but the server expects "
                        "{} experts + {} redundant = {} (--ep-num-redundant-experts)",
                        src, out.num_physical, E, out.redundant, E + out.redundant);
      GRACE_INPUT_CHECK((E + out.redundant) % ep_size == 0,
                        "sglang file '{}': {} experts + {} redundant = {} do not "
                        "divide over --ep-size {}",
                        src, E, out.redundant, E + out.redundant, ep_size);
    }
    GRACE_INPUT_CHECK(int(row.size()) == out.num_physical, "sglang file '{}': row {} has {} entries, row 0 has {}", src,
                      l, row.size(), out.num_physical);
    std::vector<int> copies(size_t(E), 0);
    for (int q = 0; q < out.num_physical; ++q) {
      const auto& v = row[size_t(q)];
      GRACE_INPUT_CHECK(v.is_number_integer(), "sglang file '{}': row {}, physical expert {}: {} is not an integer",
                        src, l, q, dump_json(v));
      const int64_t e = v.get<int64_t>();
      GRACE_INPUT_CHECK(e >= 0 && e < E,
                        "sglang file '{}': row {}, physical expert {}: logical id {} is outside [0, "
                        "{})",
                        src, l, q, e, E);
      ++copies[size_t(e)];
    }
    for (int e = 0; e < E; ++e) {
      GRACE_INPUT_CHECK(copies[size_t(e)] > 0, "sglang file '{}': row {}: logical expert {} has no physical copy", src,
                        l, e);
      out.max_copies = std::max(out.max_copies, copies[size_t(e)]);
    }
  }
  return out;
}

}  // namespace grace
