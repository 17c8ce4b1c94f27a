// Fixture files for the bad-input suite: one small valid model, trace and placement, and one
// broken file per kind of bad input, written under a fresh directory. Valid files come from
// grace's own writers; broken .npy files are written byte by byte (write_npy cannot make them).
#ifndef GRACE_TESTS_RELIABILITY_FIXTURES_H_
#define GRACE_TESTS_RELIABILITY_FIXTURES_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/trace.h"
#include "grace/trace_io.h"

// Layout written by write_fixtures(dir) (paths relative to dir):
//   model.json          tiny model: 2 MoE layers x 8 experts, top-2, hidden 64
//   good/               valid trace of that model (64 tokens, 3 sequences, f32 weights)
//   placement.json      valid placement of that model on 2x2, 3 slots per GPU
//   bad/...             the broken inputs named by the rows of bad_input_test.cpp
//                       (bad/oorlate: an out-of-range id in the last token only)

namespace grace::reliability {
namespace fs = std::filesystem;

inline void write_raw_npy(const std::string& path, const std::string& descr, const std::vector<int64_t>& shape,
                          const std::string& data) {
  std::string st = "(";
  for (size_t i = 0; i < shape.size(); ++i) st += (i ? ", " : "") + std::to_string(shape[i]);
  st += shape.size() == 1 ? ",)" : ")";
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + st + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict.push_back('\n');
  std::string head = "\x93NUMPY";
  head += char(1), head += char(0), head += char(dict.size() & 0xff), head += char(dict.size() >> 8);
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << head << dict << data;
}

inline void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

namespace detail {

constexpr int kLayers = 2, kExperts = 8, kTopK = 2, kTokens = 64;

inline Trace good_trace() {
  Trace t;
  t.num_layers = kLayers, t.top_k = kTopK, t.num_experts = kExperts;
  for (int i = 0; i < kTokens * kLayers; ++i) {
    t.ids.push_back(expert_t(i % kExperts));
    t.ids.push_back(expert_t((i * 3 + 1) % kExperts));
  }
  t.weights.assign(t.ids.size(), 0.5f);
  t.seq_offsets = {0, 20, 40, kTokens};
  return t;
}

inline Placement good_placement() {
  Placement p;
  p.model = "tiny", p.policy = "test";
  p.nodes = 2, p.gpus_per_node = 2, p.slots_per_gpu = 3, p.num_layers = kLayers, p.num_experts = kExperts;
  p.layers.resize(kLayers);
  for (auto& layer : p.layers) {
    layer.experts.resize(kExperts);
    for (int e = 0; e < kExperts; ++e) layer.experts[e].instances = {{e / 2, 1.0}};
    layer.experts[0].instances = {{0, 0.5}, {3, 0.5}};  // one replica
  }
  return p;
}

inline std::string u8_ids(int64_t n, uint8_t v) { return std::string(size_t(n), char(v)); }
// n ids forming valid top-k rows (0, 1, ..., k-1 in every row: no expert twice).
inline std::string u8_rows(int64_t n, int k) {
  std::string s(size_t(n), '\0');
  for (int64_t i = 0; i < n; ++i) s[size_t(i)] = char(i % k);
  return s;
}

inline std::string f32_bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

inline std::string i64_bytes(const std::vector<int64_t>& v) {
  std::string s(v.size() * 8, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// The valid placement's JSON with one substitution applied (first occurrence of `from`).
inline std::string placement_with(const std::string& from, const std::string& to) {
  std::string s = placement_to_json(good_placement());
  size_t at = s.find(from);
  if (at == std::string::npos) return s + "<substitution '" + from + "' not found>";
  return s.replace(at, from.size(), to);
}

}  // namespace detail
using namespace detail;

inline void write_fixtures(const std::string& dir) {
  const std::string d = dir + "/";
  fs::create_directories(d + "bad");
  write_text(d + "model.json",
             R"({"name": "tiny", "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64, "moe_intermediate": 32})");
  write_trace(good_trace(), d + "good", /*gzip=*/false);
  save_placement(good_placement(), d + "placement.json");

  const int64_t per_token = kLayers * kTopK, n = kTokens * per_token;
  // Traces.
  write_text(d + "bad/empty/topk_ids.npy", "");
  write_raw_npy(d + "bad/truncated/topk_ids.npy", "|u1", {kTokens, kLayers, kTopK}, u8_ids(10, 1));
  write_text(d + "bad/badmagic/topk_ids.npy", "PK\x03\x04 this is a zip file, not an npy file");
  write_raw_npy(d + "bad/f4ids/topk_ids.npy", "<f4", {kTokens, kLayers, kTopK}, std::string(size_t(n) * 4, '\0'));
  write_raw_npy(d + "bad/bigendian/topk_ids.npy", ">u2", {kTokens, kLayers, kTopK}, std::string(size_t(n) * 2, '\0'));
  write_raw_npy(d + "bad/shape2d/topk_ids.npy", "|u1", {kTokens, kLayers}, u8_ids(kTokens * kLayers, 1));
  write_raw_npy(d + "bad/oor/topk_ids.npy", "|u1", {kTokens, kLayers, kTopK}, u8_ids(n, 9));
  // Valid until the very last id: streaming commands fail after batches were already counted.
  write_raw_npy(d + "bad/oorlate/topk_ids.npy", "|u1", {kTokens, kLayers, kTopK}, u8_rows(n - 1, kTopK) + char(9));
  write_raw_npy(d + "bad/hugetokens/topk_ids.npy", "|u1", {int64_t(1) << 40, kLayers, kTopK}, u8_ids(100, 1));
  write_raw_npy(d + "bad/hugedims/topk_ids.npy", "|u1", {int64_t(1) << 30, 60000, 60000}, u8_ids(100, 1));
  write_raw_npy(d + "bad/badoffsets/topk_ids.npy", "|u1", {kTokens, kLayers, kTopK}, u8_ids(n, 1));
  write_raw_npy(d + "bad/badoffsets/seq_offsets.npy", "<i8", {4}, i64_bytes({0, 30, 20, kTokens}));
  write_raw_npy(d + "bad/hugeoffsets/topk_ids.npy", "|u1", {kTokens, kLayers, kTopK}, u8_ids(n, 1));
  write_raw_npy(d + "bad/hugeoffsets/seq_offsets.npy", "<i8", {int64_t(1) << 40}, i64_bytes({0, kTokens}));
  for (const char* name : {"nanweights", "negweights"}) {
    const std::string sub = d + "bad/" + name + "/";
    write_raw_npy(sub + "topk_ids.npy", "|u1", {kTokens, kLayers, kTopK}, u8_ids(n, 1));
    std::vector<float> w(size_t(n), 0.5f);
    w[size_t(n / 2)] = std::string(name) == "nanweights" ? std::numeric_limits<float>::quiet_NaN() : -0.25f;
    write_raw_npy(sub + "topk_weights_f32.npy", "<f4", {kTokens, kLayers, kTopK}, f32_bytes(w));
  }

  // Placements.
  write_text(d + "bad/empty.json", "");
  {
    std::string full = placement_to_json(good_placement());
    write_text(d + "bad/truncated.json", full.substr(0, full.size() / 2));
  }
  write_text(d + "bad/missing_expert.json", placement_with("\"instances\": [1]", "\"instances\": []"));
  write_text(d + "bad/duplicate.json", placement_with("\"instances\": [0, 3], \"weights\": [0.5, 0.5]",
                                                      "\"instances\": [0, 0], \"weights\": [0.5, 0.5]"));
  write_text(d + "bad/negweight.json", placement_with("\"weights\": [0.5, 0.5]", "\"weights\": [1.5, -0.5]"));
  write_text(d + "bad/infweight.json", placement_with("\"weights\": [0.5, 0.5]", "\"weights\": [1e400, 0.5]"));
  write_text(d + "bad/weightsum.json", placement_with("\"weights\": [0.5, 0.5]", "\"weights\": [0.5, 0.25]"));
  write_text(d + "bad/gpu_oor.json", placement_with("\"instances\": [1]", "\"instances\": [7]"));
  write_text(d + "bad/huge_experts.json", placement_with("\"num_experts\": 8", "\"num_experts\": 1000000000"));
  write_text(d + "bad/other_experts.json", placement_with("\"num_experts\": 8", "\"num_experts\": 7"));

  // Models.
  write_text(
      d + "bad/model_huge.json",
      R"({"name": "huge", "moe_layers": 2, "experts": 1000000000, "top_k": 2, "hidden": 64, "moe_intermediate": 32})");
  write_text(
      d + "bad/model_wrap.json",
      R"({"name": "wrap", "moe_layers": 2, "experts": 4294967304, "top_k": 2, "hidden": 64, "moe_intermediate": 32})");
  write_text(d + "bad/model_zero.json",
             R"({"name": "zero", "moe_layers": 2, "experts": 0, "top_k": 2, "hidden": 64, "moe_intermediate": 32})");
  write_text(d + "bad/model_nohidden.json",
             R"({"name": "nohidden", "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 0, "moe_intermediate": 32})");

  // Topologies.
  write_text(d + "bad/topo_zero.json", R"({"nodes": 0, "gpus_per_node": 4})");
  write_text(d + "bad/topo_zerogpus.json", R"({"nodes": 2, "gpus_per_node": 0})");
  write_text(d + "bad/topo_tinymem.json", R"({"nodes": 2, "gpus_per_node": 2, "expert_memory_GB": 0.000001})");
  write_text(d + "bad/topo_selfpreset.json", R"({"preset": ")" + d + R"(bad/topo_selfpreset.json"})");
  write_text(d + "bad/topo_badtype.json", R"({"preset": 7})");
}

}  // namespace grace::reliability

#endif  // GRACE_TESTS_RELIABILITY_FIXTURES_H_
