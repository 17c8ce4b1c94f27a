#include "grace/topology.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "core/json_file.h"
#include "grace/error.h"

namespace grace {
namespace {

// Achieved TFLOP/s of one expert's SwiGLU FFN (DeepSeek-V2-Lite shapes, bf16) on one H200,
// from ../shared/data/calibration/h200.json. The floor at few tokens is launch overhead.
const std::vector<ComputePoint> kH200Curve = {{1, 0.38},      {4, 1.35},      {16, 5.99},     {64, 23.66},
                                              {128, 41.53},   {256, 98.84},   {512, 169.72},  {1024, 374.28},
                                              {2048, 456.58}, {4096, 495.29}, {8192, 522.38}, {16384, 534.28}};

// Grouped-GEMM roofline of one H200, fitted to the calibration's "grouped" entries
// (torch._grouped_mm, 64 experts of [2048 x 1408] bf16 = 369.1 MB of weights, tokens split
// evenly): 1024 tokens 124.0 us, 4096 tokens 133.5 us, 16384 tokens 168.8 us. The first two
// are weight-bound (their FLOPs would take 10.6 and 42.2 us): 369.1 MB / mean(124.0, 133.5) us
// = 2867 GB/s (59.7% of the 4800 GB/s HBM3e peak); the third is FLOP-bound: 94.49 GFLOP /
// 168.8 us = 559.8 TFLOP/s (56.6% of the 989 TFLOP/s peak). A launch overhead is not
// identifiable from three points of a max() roofline, so it is 0 (absorbed in the fit).
constexpr double kH200HbmPeakGBps = 4800;
constexpr double kH200HbmGBps = 2867;
constexpr double kH200GroupedTflops = 559.8;
constexpr double kH200PeakTflops = 989;
// A100 SXM4 40 GB: 1555 GB/s HBM2, 312 TFLOP/s dense bf16; the same efficiencies as H200.
constexpr double kA100HbmPeakGBps = 1555;
constexpr double kA100PeakTflops = 312;

Topology paper_preset() {
  Topology t;
  t.name = "paper";
  t.nodes = 2;
  t.gpus_per_node = 4;
  t.intra = {300.0, 10.0};  // A100 NVLink3: 12 links x 25 GB/s per direction
  t.inter = {3.125, 50.0};  // 25 Gbit/s Ethernet
  t.node_nic_GBps = 3.125;  // one NIC per node, shared by its 4 GPUs
  t.peak_tflops = kA100PeakTflops;
  // A100 has ~1/3 of H200's dense bf16 throughput: the H200 curve scaled by 312/989.
  for (auto p : kH200Curve) t.compute.push_back({p.tokens, p.tflops * kA100PeakTflops / kH200PeakTflops});
  // Grouped roofline: the H200 fit at the same efficiencies (928.7 GB/s, 176.6 TFLOP/s).
  t.compute_model = ComputeModel::kGrouped;
  t.hbm_GBps = kH200HbmGBps * kA100HbmPeakGBps / kH200HbmPeakGBps;
  t.grouped_tflops = kH200GroupedTflops * kA100PeakTflops / kH200PeakTflops;
  t.expert_memory_GB = 0;
  return t;
}

Topology h200_preset() {
  Topology t;
  t.name = "h200";
  t.nodes = 2;
  t.gpus_per_node = 8;
  t.intra = {290.0, 46.0};  // measured NCCL all-to-all, h200-nvlink-2gpu.json
  t.inter = {50.0, 20.0};   // 400 Gbit/s InfiniBand per GPU
  t.node_nic_GBps = 0;      // one NIC per GPU
  t.peak_tflops = kH200PeakTflops;
  t.compute = kH200Curve;
  t.compute_model = ComputeModel::kGrouped;
  t.hbm_GBps = kH200HbmGBps;
  t.grouped_tflops = kH200GroupedTflops;
  return t;
}

bool parse_int(std::string_view s, int& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

void read_link(const nlohmann::json& j, const char* key, LinkTier& link, const std::string& who) {
  if (!j.contains(key)) return;
  const std::string where = std::string(key) + ": ";
  check_keys(j[key], {"bandwidth_GBps", "latency_us", "peer_latency_us"}, who, where);
  link.bandwidth_GBps = json_number(j[key], "bandwidth_GBps", who, where, false, link.bandwidth_GBps);
  link.latency_us = json_number(j[key], "latency_us", who, where, false, link.latency_us);
  link.peer_latency_us = json_number(j[key], "peer_latency_us", who, where, false, link.peer_latency_us);
}

Topology from_json(const std::string& path) {
  const std::string who = "topology file " + quote_input(path);
  const nlohmann::json j = read_json_file(path, who);
  GRACE_INPUT_CHECK(j.is_object(), "{}: a topology file must hold one JSON object", who);
  check_keys(
      j,
      {"preset", "name", "nodes", "gpus_per_node", "slots_per_gpu", "expert_memory_GB", "intra", "inter",
       "node_nic_GBps", "peak_tflops", "kernel_overhead_us", "compute", "compute_model", "hbm_GBps", "grouped_tflops"},
      who);
  Topology t = paper_preset();
  if (j.contains("preset")) {
    const std::string preset = json_string(j, "preset", who);
    // A preset names built-in constants; a file here could include itself forever.
    GRACE_INPUT_CHECK(preset.find(".json") == std::string::npos,
                      "{}: 'preset' must be a preset or NODESxGPUS[@preset], not a file", who);
    try {
      t = parse_topology(preset);
    } catch (const InputError& e) {
      fail_input("{}: 'preset': {}", who, e.what());  // name the file the preset came from
    }
  }
  t.name = json_string(j, "name", who, "", false, std::filesystem::path(path).stem().string());
  // Counts must be whole numbers in range: nlohmann's value() would truncate 2.5 or wrap 2^32.
  t.nodes = int(json_int(j, "nodes", 0, int64_t(1) << 20, who, "", false, t.nodes));
  t.gpus_per_node = int(json_int(j, "gpus_per_node", 0, int64_t(1) << 20, who, "", false, t.gpus_per_node));
  t.slots_per_gpu = int(json_int(j, "slots_per_gpu", 0, int64_t(1) << 20, who, "", false, t.slots_per_gpu));
  t.expert_memory_GB = json_number(j, "expert_memory_GB", who, "", false, t.expert_memory_GB);
  read_link(j, "intra", t.intra, who);
  read_link(j, "inter", t.inter, who);
  t.node_nic_GBps = json_number(j, "node_nic_GBps", who, "", false, t.node_nic_GBps);
  t.peak_tflops = json_number(j, "peak_tflops", who, "", false, t.peak_tflops);
  t.kernel_overhead_us = json_number(j, "kernel_overhead_us", who, "", false, t.kernel_overhead_us);
  if (j.contains("compute_model")) {
    const std::string cm = json_string(j, "compute_model", who);
    GRACE_INPUT_CHECK(cm == "grouped" || cm == "per-expert", "{}: unknown compute_model {} (grouped, per-expert)", who,
                      quote_input(cm));
    t.compute_model = parse_compute_model(cm);
  }
  t.hbm_GBps = json_number(j, "hbm_GBps", who, "", false, t.hbm_GBps);
  t.grouped_tflops = json_number(j, "grouped_tflops", who, "", false, t.grouped_tflops);
  if (j.contains("compute")) {
    const nlohmann::json& c = j["compute"];
    GRACE_INPUT_CHECK(c.is_array() && c.size() <= 4096,
                      "{}: 'compute' must be an array of at most 4096 "
                      "[tokens, tflops] points, got {}",
                      who, json_excerpt(c));
    t.compute.clear();
    for (size_t i = 0; i < c.size(); ++i) {
      GRACE_INPUT_CHECK(c[i].is_array() && c[i].size() == 2 && c[i][0].is_number() && c[i][1].is_number(),
                        "{}: compute point {} must be [tokens, tflops], got {}", who, i, json_excerpt(c[i]));
      t.compute.push_back({c[i][0].get<double>(), c[i][1].get<double>()});
    }
  }
  t.validate();
  return t;
}

}  // namespace

double Topology::tflops_at(double tokens) const {
  if (compute.empty()) return peak_tflops;
  if (tokens <= compute.front().tokens) return compute.front().tflops * tokens / compute.front().tokens;
  if (tokens >= compute.back().tokens) return compute.back().tflops;
  for (size_t i = 1; i < compute.size(); ++i) {
    if (tokens <= compute[i].tokens) {
      double x0 = std::log2(compute[i - 1].tokens), x1 = std::log2(compute[i].tokens);
      double f = (std::log2(tokens) - x0) / (x1 - x0);
      return compute[i - 1].tflops + f * (compute[i].tflops - compute[i - 1].tflops);
    }
  }
  return compute.back().tflops;
}

void Topology::validate() const {
  GRACE_INPUT_CHECK(nodes >= 1 && nodes <= 65536, "topology {}: nodes = {} must be in [1, 65536]", quote_input(name),
                    nodes);
  GRACE_INPUT_CHECK(gpus_per_node >= 1 && gpus_per_node <= 1024, "topology {}: gpus_per_node = {} must be in [1, 1024]",
                    quote_input(name), gpus_per_node);
  GRACE_INPUT_CHECK(int64_t(nodes) * gpus_per_node <= 65536, "topology {}: more than 65536 GPUs", quote_input(name));
  GRACE_INPUT_CHECK(slots_per_gpu >= 0 && slots_per_gpu <= 65536,
                    "topology {}: slots_per_gpu = {} must be in [0, 65536]", quote_input(name), slots_per_gpu);
  GRACE_INPUT_CHECK(expert_memory_GB >= 0, "topology {}: expert_memory_GB must be >= 0", quote_input(name));
  GRACE_INPUT_CHECK(intra.bandwidth_GBps > 0 && inter.bandwidth_GBps > 0, "topology {}: link bandwidths must be > 0",
                    quote_input(name));
  GRACE_INPUT_CHECK(intra.latency_us >= 0 && inter.latency_us >= 0 && intra.peer_latency_us >= 0 &&
                        inter.peer_latency_us >= 0,
                    "topology {}: latencies must be >= 0",
                    quote_input(name));
  GRACE_INPUT_CHECK(node_nic_GBps >= 0, "topology {}: node_nic_GBps must be >= 0", quote_input(name));
  GRACE_INPUT_CHECK(peak_tflops > 0, "topology {}: peak_tflops must be > 0", quote_input(name));
  GRACE_INPUT_CHECK(compute_model == ComputeModel::kGrouped || compute_model == ComputeModel::kPerExpert,
                    "topology {}: unknown compute_model", quote_input(name));
  GRACE_INPUT_CHECK(hbm_GBps >= 0, "topology {}: hbm_GBps = {} must be >= 0 (0 = not modelled)", quote_input(name),
                    hbm_GBps);
  GRACE_INPUT_CHECK(grouped_tflops >= 0, "topology {}: grouped_tflops = {} must be >= 0 (0 = peak_tflops)",
                    quote_input(name), grouped_tflops);
  GRACE_INPUT_CHECK(kernel_overhead_us >= 0, "topology {}: kernel_overhead_us = {} must be >= 0", quote_input(name),
                    kernel_overhead_us);
  for (size_t i = 0; i < compute.size(); ++i) {
    GRACE_INPUT_CHECK(compute[i].tokens > 0 && compute[i].tflops > 0,
                      "topology {}: compute point {} must have tokens > 0 and tflops > 0", quote_input(name), i);
    GRACE_INPUT_CHECK(i == 0 || compute[i].tokens > compute[i - 1].tokens,
                      "topology {}: compute points must be sorted by tokens", quote_input(name));
  }
  // Physical bounds, so that every simulated time stays finite (a bandwidth of 1e-320 GB/s or
  // a latency of 1e308 us made times infinite and the reports' charts meaningless): rates in
  // [1e-6, 1e9] (GB/s or TFLOP/s, 0 where it means "not modelled"), times <= 1e9 us.
  auto rate = [&](double v, const char* field, bool zero_ok) {
    GRACE_INPUT_CHECK((zero_ok && v == 0) || (v >= 1e-6 && v <= 1e9), "topology {}: {} = {} must be in [1e-6, 1e9]{}",
                      quote_input(name), field, v, zero_ok ? " (or 0 = not modelled)" : "");
  };
  auto time_us = [&](double v, const char* field) {
    GRACE_INPUT_CHECK(v <= 1e9, "topology {}: {} = {} us must be <= 1e9", quote_input(name), field, v);
  };
  rate(intra.bandwidth_GBps, "intra.bandwidth_GBps", false);
  rate(inter.bandwidth_GBps, "inter.bandwidth_GBps", false);
  rate(node_nic_GBps, "node_nic_GBps", true);
  rate(hbm_GBps, "hbm_GBps", true);
  rate(peak_tflops, "peak_tflops", false);
  rate(grouped_tflops, "grouped_tflops", true);
  for (const auto& c : compute) rate(c.tflops, "a compute point's tflops", false);
  time_us(intra.latency_us, "intra.latency_us");
  time_us(inter.latency_us, "inter.latency_us");
  time_us(intra.peer_latency_us, "intra.peer_latency_us");
  time_us(inter.peer_latency_us, "inter.peer_latency_us");
  time_us(kernel_overhead_us, "kernel_overhead_us");
  GRACE_INPUT_CHECK(expert_memory_GB <= 1e9, "topology {}: expert_memory_GB = {} must be <= 1e9", quote_input(name),
                    expert_memory_GB);
}

std::string_view compute_model_name(ComputeModel m) { return m == ComputeModel::kPerExpert ? "per-expert" : "grouped"; }

ComputeModel parse_compute_model(std::string_view name) {
  if (name == "grouped") return ComputeModel::kGrouped;
  if (name == "per-expert") return ComputeModel::kPerExpert;
  fail_input("unknown compute_model {} (grouped, per-expert)", quote_input(name));
}

std::vector<std::string> topology_preset_names() { return {"paper", "h200"}; }

Topology parse_topology(std::string_view spec) {
  std::string s(spec);
  GRACE_INPUT_CHECK(!s.empty(), "empty topology spec (try 2x4, 2x4@h200, paper, h200 or a JSON file)");
  if (s == "paper") return paper_preset();
  if (s == "h200") return h200_preset();
  if (s.size() > 5 && s.substr(s.size() - 5) == ".json") {
    std::error_code ec;
    GRACE_INPUT_CHECK(std::filesystem::is_regular_file(s, ec), "topology file {} does not exist{}", quote_input(s),
                      ec && ec != std::errc::no_such_file_or_directory ? " (" + ec.message() + ")" : "");
    return from_json(s);
  }
  std::string shape = s, preset = "paper";
  if (auto at = s.find('@'); at != std::string::npos) {
    shape = s.substr(0, at);
    preset = s.substr(at + 1);
    GRACE_INPUT_CHECK(preset == "paper" || preset == "h200", "topology {}: unknown preset {} (paper, h200)",
                      quote_input(s), quote_input(preset));
  }
  auto x = shape.find('x');
  int n = 0, g = 0;
  GRACE_INPUT_CHECK(x != std::string::npos && parse_int(std::string_view(shape).substr(0, x), n) &&
                        parse_int(std::string_view(shape).substr(x + 1), g),
                    "bad topology {}: expected NODESxGPUS (e.g. 2x4), NODESxGPUS@preset, a preset "
                    "(paper, h200) or a .json file",
                    quote_input(s));
  Topology t = preset == "h200" ? h200_preset() : paper_preset();
  t.nodes = n;
  t.gpus_per_node = g;
  t.name = s;
  t.validate();
  return t;
}

int slots_per_gpu(const Topology& topo, int experts, int redundant_slots) {
  if (topo.slots_per_gpu > 0) return topo.slots_per_gpu;
  int gpus = topo.num_gpus();
  if (redundant_slots < 0) redundant_slots = gpus;
  return int((int64_t(experts) + redundant_slots + gpus - 1) / gpus);
}

}  // namespace grace
