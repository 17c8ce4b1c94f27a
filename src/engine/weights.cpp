// Weight sources: deterministic random weights and safetensors files (see grace/engine/weights.h).
#include "grace/engine/weights.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/task_queue.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "grace/error.h"

namespace grace::engine {
namespace {

// Most threads filling one random matrix.
constexpr int kMaxFillThreads = 8;

class RandomWeights : public WeightSource {
 public:
  RandomWeights(uint64_t seed, int64_t hidden, int64_t inter) : seed_(seed), h_(hidden), i_(inter) {}
  std::string describe() const override { return "random:" + std::to_string(seed_); }
  void check(int, int) override {}
  void load(int layer, int expert, ExpertWeights& w) override {
    const size_t n = size_t(h_) * size_t(i_);
    fill(w.gate, n, layer, expert, 0, 1.0f / std::sqrt(float(h_)));
    fill(w.up, n, layer, expert, 1, 1.0f / std::sqrt(float(h_)));
    fill(w.down, n, layer, expert, 2, 1.0f / std::sqrt(float(i_)));
  }
  void load_gate(int layer, int experts, std::vector<float>& g) override {
    fill(g, size_t(experts) * size_t(h_), layer, -1, 3, 3.0f / std::sqrt(float(h_)));
  }

 private:
  void fill(std::vector<float>& v, size_t n, int layer, int expert, int matrix, float scale) const {
    v.resize(n);
    const uint64_t base = mix_key(seed_, uint64_t(layer), uint64_t(expert), uint64_t(matrix));
    // A pure function of the index: split over threads for full-size experts (same numbers).
    const int parts = n < (size_t(1) << 20) ? 1 : pool_threads(0, kMaxFillThreads);
    for_each_task(parts, parts, [&](int t, int) {
      for (size_t k = n * size_t(t) / size_t(parts); k < n * size_t(t + 1) / size_t(parts); ++k)
        v[k] = scale * uniform_pm1(base, k);
    });
  }
  uint64_t seed_;
  int64_t h_, i_;
};

class SafetensorsWeights : public WeightSource {
 public:
  SafetensorsWeights(const std::string& spec, int64_t hidden, int64_t inter, int dense_layers)
      : spec_(spec), h_(hidden), i_(inter), dense_(dense_layers) {
    namespace fs = std::filesystem;
    GRACE_INPUT_CHECK(fs::exists(spec),
                      "--weights: '{}' does not exist (expected random:SEED or a "
                      "safetensors file or directory)",
                      spec);
    if (fs::is_directory(spec)) {
      const fs::path index = fs::path(spec) / "model.safetensors.index.json";
      if (fs::exists(index)) {
        std::ifstream in(index);
        nlohmann::json j;
        try {
          in >> j;
        } catch (const std::exception& e) {
          fail_input("{}: not valid JSON ({})", index.string(), e.what());
        }
        GRACE_INPUT_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), "{}: no weight_map object",
                          index.string());
        for (auto& [name, file] : j["weight_map"].items()) {
          GRACE_INPUT_CHECK(file.is_string(), "{}: weight_map entry {} is not a file name ({})", index.string(),
                            quote_input(name), std::string(file.type_name()));
          weight_map_[name] = (fs::path(spec) / file.get<std::string>()).string();
        }
      } else {
        std::vector<std::string> files;
        for (auto& e : fs::directory_iterator(spec))
          if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
        GRACE_INPUT_CHECK(files.size() == 1,
                          "--weights: directory '{}' has {} .safetensors files and "
                          "no model.safetensors.index.json",
                          spec, files.size());
        single_ = files[0];
      }
    } else {
      single_ = spec;
    }
  }

  std::string describe() const override { return spec_; }

  void check(int layer, int expert) override {
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
      const std::string name = expert_tensor_name(layer + dense_, expert, proj);
      SafetensorsFile& f = file_for(name);
      const TensorInfo& t = f.info(name);
      const std::vector<int64_t> want = shape_of(proj);
      GRACE_INPUT_CHECK(t.shape == want,
                        "{}: tensor '{}' has shape [{}x{}], expected [{}x{}] "
                        "(--hidden/--intermediate)",
                        f.path(), name, t.shape.size() > 0 ? t.shape[0] : -1, t.shape.size() > 1 ? t.shape[1] : -1,
                        want[0], want[1]);
    }
  }

  void load(int layer, int expert, ExpertWeights& w) override {
    auto get = [&](const char* proj) {
      const std::string name = expert_tensor_name(layer + dense_, expert, proj);
      SafetensorsFile& f = file_for(name);
      std::vector<float> v = f.read_f32(name, shape_of(proj));
      check_finite(v, f.path(), name);
      return v;
    };
    w.gate = get("gate_proj");
    w.up = get("up_proj");
    w.down = get("down_proj");
  }

  void load_gate(int layer, int experts, std::vector<float>& g) override {
    const std::string name = "model.layers." + std::to_string(layer + dense_) + ".mlp.gate.weight";
    SafetensorsFile& f = file_for(name);
    g = f.read_f32(name, {int64_t(experts), h_});
    check_finite(g, f.path(), name);
  }

 private:
  // A NaN or Inf weight would make every output it touches NaN (and the output check "inf").
  static void check_finite(const std::vector<float>& v, const std::string& path, const std::string& name) {
    for (size_t i = 0; i < v.size(); ++i)
      GRACE_INPUT_CHECK(std::isfinite(v[i]), "{}: tensor '{}' holds {} at element {}", path, name,
                        std::isnan(v[i]) ? "NaN" : "an infinite value", i);
  }
  std::vector<int64_t> shape_of(const std::string& proj) const {
    return proj == "down_proj" ? std::vector<int64_t>{h_, i_} : std::vector<int64_t>{i_, h_};
  }
  SafetensorsFile& file_for(const std::string& name) {
    std::string path = single_;
    if (path.empty()) {
      auto it = weight_map_.find(name);
      GRACE_INPUT_CHECK(it != weight_map_.end(), "{}: tensor '{}' not found in the index", spec_, name);
      path = it->second;
    }
    auto it = open_.find(path);
    if (it == open_.end()) it = open_.emplace(path, std::make_unique<SafetensorsFile>(path)).first;
    return *it->second;
  }

  std::string spec_, single_;
  int64_t h_, i_;
  int dense_;
  std::map<std::string, std::string> weight_map_;
  std::map<std::string, std::unique_ptr<SafetensorsFile>> open_;
};

}  // namespace

std::string expert_tensor_name(int model_layer, int expert, const char* proj) {
  return "model.layers." + std::to_string(model_layer) + ".mlp.experts." + std::to_string(expert) + "." + proj +
         ".weight";
}

std::unique_ptr<WeightSource> make_weight_source(const std::string& spec, int64_t hidden, int64_t intermediate,
                                                 int dense_layers) {
  if (spec.rfind("random:", 0) == 0 || spec == "random") {
    uint64_t seed = 0;
    if (spec.size() > 6) {
      GRACE_INPUT_CHECK(spec.size() > 7 && spec.find_first_not_of("0123456789", 7) == std::string::npos,
                        "--weights: bad seed in '{}' (expected random:SEED, SEED a whole number >= 0)", spec);
      try {
        size_t used = 0;
        seed = std::stoull(spec.substr(7), &used);
        GRACE_INPUT_CHECK(used == spec.size() - 7, "--weights: bad seed in '{}'", spec);
      } catch (const std::logic_error&) {
        fail_input("--weights: bad seed in '{}' (expected random:SEED)", spec);
      }
    }
    return std::make_unique<RandomWeights>(seed, hidden, intermediate);
  }
  return std::make_unique<SafetensorsWeights>(spec, hidden, intermediate, dense_layers);
}

}  // namespace grace::engine
