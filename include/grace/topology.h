// Topology: the cluster a placement is made for and the cost constants the simulator uses.
//
// GPUs are numbered globally, gpu = node * gpus_per_node + local_rank. Link and compute
// constants are data (presets or JSON), never literals in the simulator.
#ifndef GRACE_TOPOLOGY_H_
#define GRACE_TOPOLOGY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace grace {

// One link tier: alpha-beta model, time = latency + peers x peer_latency + bytes / bandwidth.
struct LinkTier {
  double bandwidth_GBps = 0;  // per GPU, per direction, in 1e9 bytes/s
  double latency_us = 0;      // fixed cost of one exchange stage (collective call) on this tier
  // Fixed cost per peer GPU a GPU exchanges with over this tier in one stage (one stream per
  // peer, e.g. NCCL's socket connections); 0 in the built-in presets. Peers: inside a node
  // gpus_per_node - 1; across nodes (nodes - 1) x gpus_per_node for flat all-to-all and
  // nodes - 1 for hierarchical's inter stage (one GPU per other node).
  double peer_latency_us = 0;
};

// How the simulator costs a GPU's expert FFNs (see grace/simulate.h, docs/simulator.md).
//   kGrouped    one grouped GEMM over all of the GPU's local instances (real MoE engines): a
//               roofline, max(weight bytes of the active instances / hbm_GBps, FLOPs /
//               grouped_tflops), plus kernel_overhead_us. The default.
//   kPerExpert  one GEMM per active instance at the calibrated per-expert curve `compute`
//               (a PyTorch per-expert loop, ~46 us launch floor per expert); kept for comparison.
enum class ComputeModel { kGrouped, kPerExpert };

// "grouped" / "per-expert".
std::string_view compute_model_name(ComputeModel m);
// Parses "grouped" | "per-expert"; throws InputError naming the value otherwise.
ComputeModel parse_compute_model(std::string_view name);

// Achieved expert-GEMM throughput as a function of tokens per expert (piecewise linear in
// log2(tokens)); calibrated from measurements (see ../shared/data/calibration).
struct ComputePoint {
  double tokens = 0;
  double tflops = 0;
};

struct Topology {
  std::string name = "custom";
  int nodes = 1;
  int gpus_per_node = 1;

  // Expert slots per GPU per MoE layer (a slot holds one expert instance). 0 means "derive
  // from the model": ceil((experts + redundant) / gpus).
  int slots_per_gpu = 0;
  // Memory per GPU available for routed-expert weights, in GB (1e9 bytes); 0 = unlimited.
  double expert_memory_GB = 0;

  LinkTier intra;  // inside a node (NVLink)
  LinkTier inter;  // across nodes, per GPU
  // If > 0, all GPUs of a node share one NIC of this bandwidth (GB/s per direction) for
  // cross-node traffic (the paper's testbed); otherwise each GPU has `inter` to itself.
  double node_nic_GBps = 0;

  double peak_tflops = 0;  // dense bf16 peak of one GPU
  ComputeModel compute_model = ComputeModel::kGrouped;
  // kGrouped: effective HBM bandwidth for streaming the active instances' weights, GB/s
  // (1e9 bytes/s); 0 = weight streaming not modelled (compute-bound only).
  double hbm_GBps = 0;
  // kGrouped: achieved TFLOP/s of a large grouped GEMM; 0 = peak_tflops.
  double grouped_tflops = 0;
  std::vector<ComputePoint> compute;  // kPerExpert: tokens per expert -> achieved TFLOP/s
  // Fixed cost per GPU per layer (per chunk) when the GPU computes anything: the grouped
  // kernel's launch (kGrouped), or on top of the per-expert curve (kPerExpert).
  double kernel_overhead_us = 0;

  int num_gpus() const { return nodes * gpus_per_node; }
  int node_of(int gpu) const { return gpu / gpus_per_node; }
  int local_rank(int gpu) const { return gpu % gpus_per_node; }
  int gpu_at(int node, int local) const { return node * gpus_per_node + local; }

  // Achieved TFLOP/s for a GEMM group of `tokens` tokens on one expert (interpolated).
  double tflops_at(double tokens) const;

  // Throws InputError naming the field when a value is out of range.
  void validate() const;
};

// Names of the built-in presets: "paper" (2x4 A100, NVLink, 25 Gbps Ethernet between nodes),
// "h200" (H200 nodes with NVLink inside and 400 Gbps InfiniBand per GPU).
std::vector<std::string> topology_preset_names();

// Parses a topology spec:
//   "2x4"            nodes x GPUs per node, with the "paper" constants;
//   "2x4@h200"       shape with a preset's constants;
//   "paper" | "h200" a preset with its default shape (2x4 and 2x8);
//   path.json        a JSON file (keys as in Topology; see docs/formats.md).
// Throws InputError naming the spec and the problem.
Topology parse_topology(std::string_view spec);

// Expert slots per GPU for a model and redundancy: slots_per_gpu if set, else derived.
int slots_per_gpu(const Topology& topo, int experts, int redundant_slots);

}  // namespace grace

#endif  // GRACE_TOPOLOGY_H_
