// make_seeds OUTDIR: writes the seed corpora of the fuzz targets (OUTDIR/<target>/...) from
// valid inputs made with grace's own writers (write_npy, write_trace, save_placement,
// export_placement, write_safetensors) plus hand-written topology and model JSON.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "engine/safetensors.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/trace.h"
#include "grace/trace_io.h"
#include "trace/npy.h"

namespace fs = std::filesystem;
using namespace grace;

namespace {

std::string slurp(const std::string& path) { return read_file(path); }

void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string u16le(size_t n) { return std::string{char(n & 0xff), char((n >> 8) & 0xff)}; }

Trace small_trace(int tokens, int layers, int k, int experts, bool weights) {
  Trace t;
  t.num_layers = layers, t.top_k = k, t.num_experts = experts;
  for (int i = 0; i < tokens * layers; ++i)
    for (int j = 0; j < k; ++j) t.ids.push_back(expert_t((i * 7 + j * 3) % experts));
  if (weights)
    for (size_t i = 0; i < t.ids.size(); ++i) t.weights.push_back(1.0f / float(k));
  t.seq_offsets = {0, tokens / 3, tokens};
  return t;
}

Placement small_placement() {
  Placement p;
  p.model = "seed", p.policy = "seed", p.seed = 7;
  p.nodes = 2, p.gpus_per_node = 2, p.slots_per_gpu = 3, p.num_layers = 2, p.num_experts = 8;
  p.layers.resize(2);
  for (int l = 0; l < 2; ++l) {
    p.layers[l].experts.resize(8);
    for (int e = 0; e < 8; ++e) p.layers[l].experts[e].instances = {{e % 4, 1.0}};
    p.layers[l].experts[l].instances = {{l % 4, 0.75}, {(l + 2) % 4, 0.25}};
  }
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUTDIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path tmp = out / "tmp";
  fs::create_directories(tmp);

  // npy: every supported dtype, plain and gzip.
  std::vector<uint8_t> u1 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  std::vector<uint16_t> u2 = {0, 300, 65535, 7};
  std::vector<int32_t> i4 = {0, -1, 5, 1 << 30};
  std::vector<int64_t> i8 = {0, 3, 9, 12};
  std::vector<float> f4 = {0.5f, 0.25f, -1.0f, 1e30f};
  std::vector<uint16_t> f2 = {0x3c00, 0x3800, 0x7c00, 0x0001};
  struct Arr {
    const char* name;
    NpyDtype dt;
    std::vector<int64_t> shape;
    const void* data;
  };
  for (const Arr& a : {Arr{"u1_3d", NpyDtype::kU1, {2, 3, 2}, u1.data()}, Arr{"u2", NpyDtype::kU2, {4}, u2.data()},
                       Arr{"i4", NpyDtype::kI4, {2, 2}, i4.data()}, Arr{"i8", NpyDtype::kI8, {4}, i8.data()},
                       Arr{"f4", NpyDtype::kF4, {1, 4}, f4.data()}, Arr{"f2", NpyDtype::kF2, {4}, f2.data()}}) {
    for (bool gz : {false, true}) {
      std::string name = std::string(a.name) + (gz ? ".npy.gz" : ".npy");
      write_npy((tmp / name).string(), a.dt, a.shape, a.data, gz);
      put(out / "npy", name, slurp((tmp / name).string()));
    }
  }

  // trace: [experts][flags] then ids, offsets, weights files, each length-prefixed.
  int n = 0;
  for (bool weights : {false, true}) {
    for (int experts : {8, 300}) {
      const fs::path d = tmp / ("trace" + std::to_string(n));
      write_trace(small_trace(12, 2, 2, experts, weights), d.string(), /*gzip=*/false);
      std::string seed{char(experts > 255 ? 0 : experts), char(weights ? 1 : 0)};
      for (const char* f : {"topk_ids.npy", "seq_offsets.npy", "topk_weights_f32.npy"}) {
        std::string bytes = fs::exists(d / f) ? slurp((d / f).string()) : "";
        seed += u16le(bytes.size()) + bytes;
      }
      put(out / "trace", "seed" + std::to_string(n++), seed);
    }
  }

  // placement JSON and the two exports.
  const Placement p = small_placement();
  put(out / "placement_json", "seed.json", placement_to_json(p));
  put(out / "placement_import", "sglang",
      std::string{0, 1, 1} + export_placement(p, ExportFormat::kSglang, generic_model(2, 8, 2)));
  put(out / "placement_import", "vllm",
      std::string{1, 1, 1} + export_placement(p, ExportFormat::kVllm, generic_model(2, 8, 2)));

  // topology JSON (keys as in grace/topology.h) and spec strings.
  put(out / "topology", "full.json",
      R"({"name": "t", "nodes": 2, "gpus_per_node": 4, "slots_per_gpu": 10, "expert_memory_GB": 40,
 "intra": {"bandwidth_GBps": 300, "latency_us": 10}, "inter": {"bandwidth_GBps": 3.125, "latency_us": 50},
 "node_nic_GBps": 3.125, "peak_tflops": 312, "kernel_overhead_us": 5,
 "compute": [[1, 0.1], [64, 7.5], [1024, 118]]})");
  put(out / "topology", "preset.json", R"({"preset": "2x8@h200", "nodes": 1})");
  put(out / "topology", "spec1", "2x4@h200");
  put(out / "topology", "spec2", "paper");

  // model JSON (keys as in grace/model.h).
  put(out / "model", "model.json",
      R"({"name": "m", "moe_layers": 26, "dense_layers": 1, "experts": 64, "shared_experts": 2, "top_k": 6,
 "hidden": 2048, "moe_intermediate": 1408, "vocab": 102400, "dtype_bytes": 2})");

  // safetensors with the three readable dtypes.
  std::map<std::string, engine::TensorToWrite> tensors;
  tensors["model.layers.1.mlp.experts.0.gate_proj.weight"] = {"F32", {2, 3}, {1, 2, 3, 4, 5, 6}};
  tensors["model.layers.1.mlp.experts.0.up_proj.weight"] = {"BF16", {2, 3}, {1, -2, 3, 0.5f, 5, 6}};
  tensors["model.layers.1.mlp.experts.0.down_proj.weight"] = {"F16", {3, 2}, {1, 2, -3, 4, 65504, 1e-7f}};
  engine::write_safetensors((tmp / "w.safetensors").string(), tensors);
  put(out / "safetensors", "w.safetensors", slurp((tmp / "w.safetensors").string()));

  fs::remove_all(tmp);
  std::printf("seeds written under %s\n", out.c_str());
  return 0;
}
