// --weights DIR: a Hugging Face checkpoint folder, sharded (model.safetensors.index.json naming
// each tensor's shard) or one .safetensors file, for the expert weights and the gate.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/safetensors.h"
#include "grace/engine/weights.h"
#include "grace/error.h"

namespace grace::engine {
namespace {

namespace fs = std::filesystem;

constexpr int64_t H = 4, I = 3, E = 2;

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("grace_sharded_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Small integers (exact in bf16), starting at a different value for every (model layer,
// expert, matrix): a tensor read from the wrong place differs.
std::vector<float> values(int layer, int expert, int matrix, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = float(16 * layer + 4 * expert + matrix + i);
  return v;
}

// Model layers 1 and 2 (one dense layer first): experts and the gate of each layer.
std::map<std::string, TensorToWrite> layer_tensors(int layer) {
  std::map<std::string, TensorToWrite> t;
  for (int e = 0; e < E; ++e) {
    t[expert_tensor_name(layer, e, "gate_proj")] = {"BF16", {I, H}, values(layer, e, 0, I * H)};
    t[expert_tensor_name(layer, e, "up_proj")] = {"F32", {I, H}, values(layer, e, 1, I * H)};
    t[expert_tensor_name(layer, e, "down_proj")] = {"F32", {H, I}, values(layer, e, 2, H * I)};
  }
  t["model.layers." + std::to_string(layer) + ".mlp.gate.weight"] = {"F32", {E, H}, values(layer, 3, 3, E * H)};
  return t;
}

void write_index(const fs::path& dir, const std::string& weight_map) {
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"metadata": {"total_size": 1}, "weight_map": )" << weight_map << "}";
}

// Writes layer 1 to one shard and layer 2 to another, with the index naming them.
void write_sharded(const fs::path& dir) {
  std::string map = "{";
  for (int layer : {1, 2}) {
    const std::string shard = "model-0000" + std::to_string(layer) + "-of-00002.safetensors";
    const auto t = layer_tensors(layer);
    write_safetensors((dir / shard).string(), t);
    for (const auto& [name, tensor] : t) map += (map.size() > 1 ? ", \"" : "\"") + name + "\": \"" + shard + "\"";
  }
  write_index(dir, map + "}");
}

void expect_layers_read(WeightSource& src) {
  for (int moe_layer : {0, 1}) {
    const int layer = moe_layer + 1;
    for (int e = 0; e < E; ++e) {
      src.check(moe_layer, e);
      ExpertWeights w;
      src.load(moe_layer, e, w);
      EXPECT_EQ(w.gate, values(layer, e, 0, I * H)) << "layer " << layer << " expert " << e;
      EXPECT_EQ(w.up, values(layer, e, 1, I * H));
      EXPECT_EQ(w.down, values(layer, e, 2, H * I));
    }
    std::vector<float> gate;
    src.load_gate(moe_layer, int(E), gate);
    EXPECT_EQ(gate, values(layer, 3, 3, E * H)) << "gate of layer " << layer;
  }
}

std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(ShardedWeights, IndexedShardsReadLikeOneFile) {
  const fs::path dir = fresh_dir("sharded");
  write_sharded(dir);
  auto src = make_weight_source(dir.string(), H, I, /*dense_layers=*/1);
  expect_layers_read(*src);

  // The same tensors in one file, alone in a folder, and named directly.
  const fs::path one = fresh_dir("one");
  auto all = layer_tensors(1);
  all.merge(layer_tensors(2));
  write_safetensors((one / "model.safetensors").string(), all);
  expect_layers_read(*make_weight_source(one.string(), H, I, 1));
  expect_layers_read(*make_weight_source((one / "model.safetensors").string(), H, I, 1));
}

TEST(ShardedWeights, FolderAndIndexErrorsNameWhatIsWrong) {
  // Two files and no index: which one holds what is not known.
  const fs::path two = fresh_dir("two");
  write_safetensors((two / "a.safetensors").string(), layer_tensors(1));
  write_safetensors((two / "b.safetensors").string(), layer_tensors(2));
  EXPECT_NE(input_error_of([&] {
              make_weight_source(two.string(), H, I, 1);
            }).find("has 2 .safetensors files and no model.safetensors.index.json"),
            std::string::npos);

  const fs::path dir = fresh_dir("bad-index");
  write_sharded(dir);
  const fs::path index = dir / "model.safetensors.index.json";
  std::ofstream(index) << "{\"weight_map\": ";
  EXPECT_NE(input_error_of([&] { make_weight_source(dir.string(), H, I, 1); }).find("not valid JSON"),
            std::string::npos);
  std::ofstream(index) << R"({"metadata": {}})";
  EXPECT_NE(input_error_of([&] { make_weight_source(dir.string(), H, I, 1); }).find("no weight_map object"),
            std::string::npos);
  write_index(dir, R"({"model.layers.1.mlp.gate.weight": 7})");
  EXPECT_NE(input_error_of([&] {
              make_weight_source(dir.string(), H, I, 1);
            }).find("weight_map entry 'model.layers.1.mlp.gate.weight' is not a file name"),
            std::string::npos);

  // A tensor the index does not list, and one whose shard is missing.
  write_index(dir, R"({"model.layers.1.mlp.gate.weight": "model-00001-of-00002.safetensors"})");
  auto partial = make_weight_source(dir.string(), H, I, 1);
  EXPECT_NE(input_error_of([&] {
              partial->check(0, 0);
            }).find("tensor 'model.layers.1.mlp.experts.0.gate_proj.weight' not found in the index"),
            std::string::npos);
  std::vector<float> gate;
  EXPECT_NO_THROW(partial->load_gate(0, int(E), gate));
  write_index(dir, R"({"model.layers.1.mlp.gate.weight": "model-00009-of-00009.safetensors"})");
  auto missing = make_weight_source(dir.string(), H, I, 1);
  EXPECT_NE(input_error_of([&] { missing->load_gate(0, int(E), gate); }).find("model-00009-of-00009.safetensors"),
            std::string::npos);
}

}  // namespace
}  // namespace grace::engine
