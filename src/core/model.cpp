#include "grace/model.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <system_error>

#include "core/json_file.h"
#include "grace/error.h"

namespace grace {
namespace {

// Published architecture facts (the models' public configs; mirrors ../shared/data/models.json).
const std::vector<ModelSpec>& presets() {
  static const std::vector<ModelSpec> kPresets = {
      // ..., dtype_bytes, n_group, topk_group, norm_topk_prob (the configs' router fields;
      // DeepSeek-V3 scores with a biased sigmoid, which the engine's softmax gate does not model)
      {"deepseek-v2-lite", 26, 1, 64, 2, 6, 2048, 1408, 102400, 2, 1, 1, false},
      {"deepseek-v3", 58, 3, 256, 1, 8, 7168, 2048, 129280, 2, 8, 4, true},
      {"gpt-oss-20b", 24, 0, 32, 0, 4, 2880, 2880, 201088, 2, 1, 1, true},
      {"olmoe-1b-7b", 16, 0, 64, 0, 8, 2048, 1024, 50304, 2, 1, 1, false},
      {"qwen3-30b-a3b", 48, 0, 128, 0, 8, 2048, 768, 151936, 2, 1, 1, true},
      {"mixtral-8x7b", 32, 0, 8, 0, 2, 4096, 14336, 32000, 2, 1, 1, true},
  };
  return kPresets;
}

// Reads an integer field and checks it against the field's own range [lo, hi] before narrowing
// it to T (ModelSpec::validate checks the ranges that depend on other fields); a value wider
// than int64 gets the same message, with the field's range, not the C type's.
template <typename T>
void read_field(const nlohmann::json& j, const char* key, T& out, const std::string& who, bool required, int64_t lo,
                int64_t hi, const std::string& name) {
  static_assert(sizeof(T) <= sizeof(int64_t));
  hi = std::min<int64_t>(hi, int64_t(std::numeric_limits<T>::max()));
  auto outside = [&](const std::string& v) {
    fail_input("{}: {} = {} is out of range [{}, {}] (model {})", who, key, v, lo, hi, quote_input(name));
  };
  if (j.contains(key) && j[key].is_number_unsigned() && j[key].get<uint64_t>() > uint64_t(INT64_MAX))
    outside(std::to_string(j[key].get<uint64_t>()));
  const int64_t v = json_int(j, key, INT64_MIN, INT64_MAX, who, "", required, int64_t(out));
  if (v < lo || v > hi) outside(std::to_string(v));
  out = T(v);
}

// The preset of that name, or nullptr.
const ModelSpec* find_preset(std::string_view name) {
  for (const ModelSpec& p : presets())
    if (p.name == name) return &p;
  return nullptr;
}

// A model file that takes a preset's name must be that preset: placements and the commands that
// check them know a model by its name, so a file named "deepseek-v2-lite" with another hidden
// size would be replaced by the preset further down the pipeline.
void check_not_a_changed_preset(const ModelSpec& m, const std::string& who) {
  if (const ModelSpec* found = find_preset(m.name)) {
    const ModelSpec& p = *found;
    std::string diff;
    auto cmp = [&](const char* field, int64_t a, int64_t b) {
      if (a != b) diff += fmt::format("{}{} = {} (the preset's: {})", diff.empty() ? "" : ", ", field, a, b);
    };
    cmp("moe_layers", m.moe_layers, p.moe_layers);
    cmp("dense_layers", m.dense_layers, p.dense_layers);
    cmp("experts", m.experts, p.experts);
    cmp("shared_experts", m.shared_experts, p.shared_experts);
    cmp("top_k", m.top_k, p.top_k);
    cmp("hidden", m.hidden, p.hidden);
    cmp("moe_intermediate", m.moe_intermediate, p.moe_intermediate);
    cmp("vocab", m.vocab, p.vocab);
    cmp("dtype_bytes", m.dtype_bytes, p.dtype_bytes);
    cmp("n_group", m.n_group, p.n_group);
    cmp("topk_group", m.topk_group, p.topk_group);
    cmp("norm_topk_prob", m.norm_topk_prob, p.norm_topk_prob);
    GRACE_INPUT_CHECK(diff.empty(),
                      "{}: its name '{}' is a preset's, but it differs: {}; give the file another \"name\" "
                      "(placements name their model)",
                      who, m.name, diff);
  }
}

}  // namespace

void ModelSpec::validate() const {
  auto in = [&](const char* field, int64_t v, int64_t lo, int64_t hi) {
    GRACE_INPUT_CHECK(v >= lo && v <= hi, "model {}: {} = {} is outside [{}, {}]", quote_input(name), field, v, lo, hi);
  };
  in("moe_layers", moe_layers, 1, 4096);
  in("experts", experts, 1, 65535);
  in("top_k", top_k, 1, experts);
  in("hidden", hidden, 1, 1 << 20);
  in("moe_intermediate", moe_intermediate, 1, 1 << 22);
  in("dtype_bytes", dtype_bytes, 1, 8);
  in("shared_experts", shared_experts, 0, 1024);
  in("dense_layers", dense_layers, 0, 4096);
  in("vocab", vocab, 0, int64_t(1) << 30);
  in("n_group", n_group, 1, experts);
  GRACE_INPUT_CHECK(experts % n_group == 0, "model '{}': experts = {} is not a multiple of n_group = {}", name, experts,
                    n_group);
  in("topk_group", topk_group, 1, n_group);
  // Group-limited top-k picks top_k experts among the topk_group best groups: they must hold them.
  GRACE_INPUT_CHECK(int64_t(topk_group) * (experts / n_group) >= top_k,
                    "model {}: top_k = {} cannot be picked from topk_group = {} of n_group = {} groups of {} experts",
                    quote_input(name), top_k, topk_group, n_group, experts / n_group);
}

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const auto& m : presets()) names.push_back(m.name);
  return names;
}

ModelSpec load_model(std::string_view name_or_path) {
  if (const ModelSpec* preset = find_preset(name_or_path)) return *preset;
  std::string path(name_or_path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    std::string names;
    for (const auto& n : model_preset_names()) names += (names.empty() ? "" : ", ") + n;
    const bool looks_like_a_file =
        path.find('/') != std::string::npos || (path.size() > 5 && path.substr(path.size() - 5) == ".json");
    std::error_code missing;
    if (looks_like_a_file && !std::filesystem::exists(path, missing) && !missing)
      fail_input("model file {}: no such file (or give a preset: {})", quote_input(path), names);
    fail_input("unknown model {}: not a preset ({}) nor a JSON file{}", quote_input(path), names,
               ec && ec != std::errc::no_such_file_or_directory ? " (" + ec.message() + ")" : "");
  }
  const std::string who = "model file " + quote_input(path);
  const nlohmann::json j = read_json_file(path, who);
  GRACE_INPUT_CHECK(j.is_object(), "{}: a model file must hold one JSON object", who);
  check_keys(j,
             {"name", "moe_layers", "dense_layers", "experts", "shared_experts", "top_k", "hidden", "moe_intermediate",
              "vocab", "dtype_bytes", "n_group", "topk_group", "norm_topk_prob"},
             who);
  ModelSpec m;
  m.name = json_string(j, "name", who, "", false, std::filesystem::path(path).stem().string());
  // Placements record the name: it must be text (a file stem is any bytes on Linux).
  try {
    (void)nlohmann::json(m.name).dump();
  } catch (const nlohmann::json::exception&) {
    fail_input("{}: its name {} is not UTF-8 text; give the model a \"name\"", who, quote_input(m.name));
  }
  // A file named like a preset restates it: the fields it leaves out are the preset's, and the
  // ones it gives must match (check_not_a_changed_preset).
  if (const ModelSpec* preset = find_preset(m.name)) m = *preset;
  const std::string& path_who = who;
  read_field(j, "moe_layers", m.moe_layers, path_who, true, 1, 4096, m.name);
  read_field(j, "dense_layers", m.dense_layers, path_who, false, 0, 4096, m.name);
  read_field(j, "experts", m.experts, path_who, true, 1, 65535, m.name);
  read_field(j, "shared_experts", m.shared_experts, path_who, false, 0, 1024, m.name);
  read_field(j, "top_k", m.top_k, path_who, true, 1, 65535, m.name);
  read_field(j, "hidden", m.hidden, path_who, true, 1, 1 << 20, m.name);
  read_field(j, "moe_intermediate", m.moe_intermediate, path_who, true, 1, 1 << 22, m.name);
  read_field(j, "vocab", m.vocab, path_who, false, 0, int64_t(1) << 30, m.name);
  read_field(j, "dtype_bytes", m.dtype_bytes, path_who, false, 1, 8, m.name);
  read_field(j, "n_group", m.n_group, path_who, false, 1, 65535, m.name);
  read_field(j, "topk_group", m.topk_group, path_who, false, 1, 65535, m.name);
  if (j.contains("norm_topk_prob")) {
    GRACE_INPUT_CHECK(j["norm_topk_prob"].is_boolean(), "{}: field 'norm_topk_prob' must be true or false", who);
    m.norm_topk_prob = j["norm_topk_prob"].get<bool>();
  }
  m.validate();
  check_not_a_changed_preset(m, who);
  return m;
}

ModelSpec generic_model(int layers, int experts, int top_k, int64_t hidden, int64_t intermediate) {
  ModelSpec m;
  m.name = "generic";
  m.moe_layers = layers;
  m.experts = experts;
  m.top_k = top_k;
  m.hidden = hidden;
  m.moe_intermediate = intermediate;
  return m;
}

}  // namespace grace
