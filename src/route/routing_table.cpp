// Builds the flat routing table (layout documented in grace/routing_table.h).
#include "grace/routing_table.h"

#include <algorithm>
#include <cmath>

#include "grace/error.h"
#include "grace/placement.h"
#include "grace/topology.h"

namespace grace {
namespace {

// Cumulative thresholds of `w` scaled to kWeightOne; the last is exactly kWeightOne.
void append_thresholds(const std::vector<double>& w, std::vector<uint32_t>& out) {
  double total = 0;
  for (double x : w) total += x;
  double acc = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    acc += w[i];
    uint32_t t = RoutingTable::kWeightOne;
    if (i + 1 < w.size()) {
      double scaled = std::floor(acc / total * double(RoutingTable::kWeightOne) + 0.5);
      t = uint32_t(std::min(scaled, double(RoutingTable::kWeightOne)));
    }
    out.push_back(t);
  }
}

}  // namespace

RoutingTable::RoutingTable(const Placement& p, const Topology& topo)
    : num_layers_(p.num_layers),
      num_experts_(p.num_experts),
      num_gpus_(topo.num_gpus()),
      num_nodes_(topo.nodes),
      gpus_per_node_(topo.gpus_per_node),
      bit_words_((topo.num_gpus() + 31) / 32) {
  GRACE_INPUT_CHECK(p.nodes == topo.nodes && p.gpus_per_node == topo.gpus_per_node,
                    "placement is for {}x{} GPUs but the topology is {}x{}", p.nodes, p.gpus_per_node, topo.nodes,
                    topo.gpus_per_node);
  GRACE_INPUT_CHECK(int(p.layers.size()) == p.num_layers, "placement has {} layers but num_layers is {}",
                    p.layers.size(), p.num_layers);
  const int L = num_layers_, E = num_experts_, G = num_gpus_, N = num_nodes_;
  const size_t LE = size_t(L) * E;
  inst_offset_.assign(LE + 1, 0);
  cand_offset_.assign(LE * N + 1, 0);
  host_bits_.assign(LE * bit_words_, 0u);
  slot_of_.assign(LE * G, -1);
  gpu_slot_offset_.assign(size_t(L) * (G + 1), 0);

  std::vector<double> w;
  for (int l = 0; l < L; ++l) {
    const LayerPlacement& lp = p.layers[l];
    GRACE_INPUT_CHECK(int(lp.experts.size()) == E, "placement layer {} has {} experts, expected {}", l,
                      lp.experts.size(), E);
    for (int e = 0; e < E; ++e) {
      const size_t le = size_t(l) * E + e;
      const auto& inst = lp.experts[e].instances;
      GRACE_INPUT_CHECK(!inst.empty(), "placement layer {}, expert {}: no instance", l, e);
      w.clear();
      for (const Instance& in : inst) {
        GRACE_INPUT_CHECK(in.gpu >= 0 && in.gpu < G, "placement layer {}, expert {}: GPU {} out of range [0, {})", l, e,
                          in.gpu, G);
        GRACE_INPUT_CHECK(in.weight > 0 && std::isfinite(in.weight),
                          "placement layer {}, expert {}: instance weight {} is not positive", l, e, in.weight);
        uint32_t& word = host_bits_[le * bit_words_ + (in.gpu >> 5)];
        GRACE_INPUT_CHECK(!((word >> (in.gpu & 31)) & 1u), "placement layer {}, expert {}: two instances on GPU {}", l,
                          e, in.gpu);
        word |= 1u << (in.gpu & 31);
        inst_gpu_.push_back(in.gpu);
        inst_weight_.push_back(float(in.weight));
        w.push_back(in.weight);
      }
      append_thresholds(w, inst_cum_);
      inst_offset_[le + 1] = int32_t(inst_gpu_.size());
    }
    // Off-GPU candidates, rows of E per (layer, node): the node's instances, else all.
    for (int n = 0; n < N; ++n) {
      for (int e = 0; e < E; ++e) {
        const auto& inst = lp.experts[e].instances;
        w.clear();
        for (const Instance& in : inst) {
          if (topo.node_of(in.gpu) != n) continue;
          cand_gpu_.push_back(in.gpu);
          cand_weight_.push_back(float(in.weight));
          w.push_back(in.weight);
        }
        if (w.empty()) {
          for (const Instance& in : inst) {
            cand_gpu_.push_back(in.gpu);
            cand_weight_.push_back(float(in.weight));
            w.push_back(in.weight);
          }
        }
        append_thresholds(w, cand_cum_);
        cand_offset_[(size_t(l) * N + n) * E + e + 1] = int32_t(cand_gpu_.size());
      }
    }
    // Slots in Placement::gpu_slots order, for the evaluator's per-instance counts.
    const std::vector<std::vector<int>> slots = p.gpu_slots(l);
    GRACE_CHECK(int(slots.size()) == G, "gpu_slots({}) has {} GPUs, expected {}", l, slots.size(), G);
    int32_t* off = gpu_slot_offset_.data() + size_t(l) * (G + 1);
    for (int g = 0; g < G; ++g) {
      off[g + 1] = off[g] + int32_t(slots[g].size());
      for (size_t s = 0; s < slots[g].size(); ++s) {
        const int e = slots[g][s];
        GRACE_CHECK(e >= 0 && e < E, "gpu_slots({})[{}] holds expert {}", l, g, e);
        slot_of_[(size_t(l) * E + e) * G + g] = int32_t(s);
      }
    }
  }
}

}  // namespace grace
