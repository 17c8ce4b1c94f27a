// RoutingTable: a Placement flattened for routing, built once per (placement, topology).
// Every router reads it; the CUDA `tar` kernel reads the same arrays copied to the device, so
// the layout is flat: 32-bit integers, offsets instead of pointers, no per-expert allocations.
//
// Indices. L layers, E experts, G GPUs, N nodes, W = ceil(G / 32) bitset words.
//   le  = layer * E + expert                    (one (layer, expert) pair)
//   lne = (layer * N + node) * E + expert       (one (layer, node, expert) triple; a token's
//                                               node fixes a row of E consecutive entries)
//
// Arrays (all owned by the table, contiguous):
//   inst_offset [L*E + 1]  instances of le are inst_offset[le] .. inst_offset[le+1]-1
//   inst_gpu    [I]        GPU of each instance; the primary comes first
//   inst_cum    [I]        cumulative weight thresholds over the instances of le, scaled to
//                          kWeightOne: a draw r in [0, kWeightOne) picks the first i with
//                          r < inst_cum[i]; the last instance of le has exactly kWeightOne
//   inst_weight [I]        the placement's weight of each instance (float; load-aware uses it)
//   cand_offset [L*N*E + 1] the off-GPU candidates of a token on node n for (layer, expert):
//                          cand_offset[lne] .. cand_offset[lne+1]-1 with
//                          lne = (layer * N + n) * E + expert, in:
//   cand_gpu    [J]        the instances of le on node n if there is any (tar's tier 2), else
//                          all instances of le (tier 3); in instance order (primary first)
//   cand_cum    [J]        cumulative thresholds over that list, last exactly kWeightOne (same
//                          draw rule as inst_cum)
//   cand_weight [J]        the placement's weight of each candidate
//   host_bits   [L*E*W]    bit (g % 32) of word host_bits[le * W + g / 32] is set iff GPU g
//                          hosts an instance of le
//   slot_of     [L*E*G]    slot of le's instance on GPU g in Placement::gpu_slots(layer)[g],
//                          or -1 when g hosts no instance of le (used by the evaluator)
//
// tar in these terms: if host_bits says the token's GPU hosts le, that GPU; else the
// candidates at lne: the only one, or a weighted draw among them.
//
// Draws. The weighted and uniform choices use pick_hash(seed, layer, token, expert) (below),
// so they are reproducible on host and device: r = hash >> 33 is the weighted draw in
// [0, kWeightOne); ((hash & 0xffffffff) * n) >> 32 is a uniform draw in [0, n).
//
// Thread-safety: immutable after construction; share it freely between threads.
#ifndef GRACE_ROUTING_TABLE_H_
#define GRACE_ROUTING_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace grace {

struct Placement;
struct Topology;

// Compiled for host and device when nvcc includes this header (the GPU routing kernel must pick
// exactly as the CPU routers do).
#if defined(__CUDACC__)
#define GRACE_HOST_DEVICE __host__ __device__
#else
#define GRACE_HOST_DEVICE
#endif

// A stable 64-bit mix of the four keys (same function on host and device).
GRACE_HOST_DEVICE inline uint64_t pick_hash(uint64_t seed, uint32_t layer, uint64_t token, uint32_t expert) {
  uint64_t x = seed ^ (uint64_t(layer) << 48) ^ (uint64_t(expert) << 32) ^ 0x9e3779b97f4a7c15ull;
  x ^= token * 0xbf58476d1ce4e5b9ull;
  x ^= x >> 31;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 32;
  return x;
}

class RoutingTable {
 public:
  static constexpr uint32_t kWeightOne = 1u << 31;

  // Throws InputError when the placement does not fit the topology's shape.
  RoutingTable(const Placement& placement, const Topology& topo);

  int num_layers() const { return num_layers_; }
  int num_experts() const { return num_experts_; }
  int num_gpus() const { return num_gpus_; }
  int num_nodes() const { return num_nodes_; }
  int gpus_per_node() const { return gpus_per_node_; }
  int bit_words() const { return bit_words_; }

  int le(int layer, int expert) const { return layer * num_experts_ + expert; }
  int lne(int layer, int node, int expert) const { return (layer * num_nodes_ + node) * num_experts_ + expert; }
  int num_instances(int le) const { return inst_offset_[le + 1] - inst_offset_[le]; }
  bool hosts(int le, int gpu) const { return (host_bits_[size_t(le) * bit_words_ + (gpu >> 5)] >> (gpu & 31)) & 1u; }
  int slot_of(int le, int gpu) const { return slot_of_[size_t(le) * num_gpus_ + gpu]; }
  // Total slots (instances) at a layer, and the first flat slot index of each GPU there
  // (flat slot = gpu_slot_offset(layer)[g] + slot_of(le, g)); [G + 1] entries.
  const int32_t* gpu_slot_offset(int layer) const { return gpu_slot_offset_.data() + size_t(layer) * (num_gpus_ + 1); }

  // Raw arrays (layout above), for routers and for copying to a device.
  const std::vector<int32_t>& inst_offset() const { return inst_offset_; }
  const std::vector<int32_t>& inst_gpu() const { return inst_gpu_; }
  const std::vector<uint32_t>& inst_cum() const { return inst_cum_; }
  const std::vector<float>& inst_weight() const { return inst_weight_; }
  const std::vector<int32_t>& cand_offset() const { return cand_offset_; }
  const std::vector<int32_t>& cand_gpu() const { return cand_gpu_; }
  const std::vector<uint32_t>& cand_cum() const { return cand_cum_; }
  const std::vector<float>& cand_weight() const { return cand_weight_; }
  // Whether the candidates at lne are on the token's own node (tier 2) or anywhere (tier 3).
  bool cand_on_node(int lne, int node) const { return cand_gpu_[size_t(cand_offset_[lne])] / gpus_per_node_ == node; }
  const std::vector<uint32_t>& host_bits() const { return host_bits_; }
  const std::vector<int32_t>& slot_of() const { return slot_of_; }

 private:
  int num_layers_ = 0, num_experts_ = 0, num_gpus_ = 0, num_nodes_ = 0, gpus_per_node_ = 0;
  int bit_words_ = 0;
  std::vector<int32_t> inst_offset_, inst_gpu_;
  std::vector<uint32_t> inst_cum_;
  std::vector<float> inst_weight_;
  std::vector<int32_t> cand_offset_, cand_gpu_;
  std::vector<uint32_t> cand_cum_;
  std::vector<float> cand_weight_;
  std::vector<uint32_t> host_bits_;
  std::vector<int32_t> slot_of_;
  std::vector<int32_t> gpu_slot_offset_;  // [L][G + 1]
};

// Index of the first threshold above r among cum[0..n) (n >= 1; the last threshold is
// kWeightOne > r so the result is < n). Thresholds are non-decreasing, so that index is the
// number of thresholds <= r: counted without data-dependent branches.
inline int pick_weighted(const uint32_t* cum, int n, uint32_t r) {
  int i = 0;
  for (int j = 0; j + 1 < n; ++j) i += r >= cum[j];
  return i;
}

inline int pick_uniform(uint64_t hash, int n) { return int(((hash & 0xffffffffull) * uint64_t(n)) >> 32); }

}  // namespace grace

#endif  // GRACE_ROUTING_TABLE_H_
