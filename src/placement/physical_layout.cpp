// physical_layout: a placement laid out in SGLang's / vLLM's physical expert order (serving.h).
//
// Spare slots (a GPU hosting fewer instances than slots_per_gpu) are filled one at a time,
// round-robin over the GPUs that have spare slots, each with a real extra replica: an expert the
// GPU does not host yet, the one with the fewest copies in the layer, preferring one with no
// copy on the GPU's node (the new copy then keeps that node's tokens at home), then the lowest
// id. Deterministic; no slot ever holds a second copy of an expert on the same GPU. Each fill
// scans the layer's experts, so the work (spare slots x experts) is checked against a limit
// before any slot is filled.
#include <algorithm>

#include "core/cost_limits.h"
#include "grace/error.h"
#include "grace/serving.h"

namespace grace {

PhysicalLayout physical_layout(const Placement& p, bool require_full) {
  const int G = p.num_gpus(), S = p.slots_per_gpu, E = p.num_experts;
  GRACE_INPUT_CHECK(S >= 1, "export: placement has slots_per_gpu = {}", S);
  GRACE_INPUT_CHECK(int64_t(S) * G >= E, "export: {} GPUs x {} slots cannot hold {} experts", G, S, E);
  PhysicalLayout out;
  out.num_layers = p.num_layers;
  out.num_experts = E;
  out.nodes = p.nodes;
  out.gpus_per_node = p.gpus_per_node;
  out.slots_per_gpu = S;
  int64_t spare = 0;
  for (int l = 0; l < p.num_layers; ++l)
    for (const auto& ex : p.layers[size_t(l)].experts) spare -= ex.num_instances();
  spare += int64_t(p.num_layers) * G * S;
  check_count("physical layout", {{"spare slots to fill", spare}, {"experts", E}}, kMaxSpareFillWork,
              "each spare slot is filled by a scan of the layer's experts");
  out.phy2log.assign(size_t(p.num_layers) * G * S, -1);
  for (int l = 0; l < p.num_layers; ++l) {
    auto slots = p.gpu_slots(l);
    std::vector<int> copies(size_t(E), 0);
    std::vector<char> on_gpu(size_t(G) * E, 0), on_node(size_t(p.nodes) * E, 0);
    for (int g = 0; g < G; ++g) {
      GRACE_INPUT_CHECK(int(slots[size_t(g)].size()) <= S,
                        "export: layer {}, GPU {}: {} instances do not fit in {} "
                        "slots",
                        l, g, slots[size_t(g)].size(), S);
      for (int e : slots[size_t(g)]) {
        ++copies[size_t(e)];
        on_gpu[size_t(g) * E + e] = 1;
        on_node[size_t(g / p.gpus_per_node) * E + e] = 1;
      }
    }
    for (bool spare = true; spare;) {
      spare = false;
      for (int g = 0; g < G; ++g) {
        auto& hosted = slots[size_t(g)];
        if (int(hosted.size()) >= S) continue;
        const int node = g / p.gpus_per_node;
        int best = -1;
        for (int e = 0; e < E; ++e) {
          if (on_gpu[size_t(g) * E + e]) continue;
          if (best < 0) {
            best = e;
            continue;
          }
          const auto key = [&](int x) { return std::pair(copies[size_t(x)], int(on_node[size_t(node) * E + x])); };
          if (key(e) < key(best)) best = e;
        }
        // Every expert already on this GPU (S > E): nothing real to add; a placement with more
        // slots than experts is not exportable.
        if (best < 0 && !require_full) continue;
        GRACE_INPUT_CHECK(best >= 0,
                          "export: layer {}, GPU {}: {} slots but only {} experts; SGLang and vLLM need "
                          "every slot to hold a distinct expert",
                          l, g, S, E);
        hosted.push_back(best);
        ++copies[size_t(best)];
        on_gpu[size_t(g) * E + best] = 1;
        on_node[size_t(node) * E + best] = 1;
        ++out.spare_slots_filled;
        spare = spare || int(hosted.size()) < S;
      }
    }
    int32_t* row = out.phy2log.data() + size_t(l) * G * S;
    for (int g = 0; g < G; ++g)
      for (int s = 0; s < int(slots[size_t(g)].size()); ++s) row[size_t(g) * S + s] = slots[size_t(g)][size_t(s)];
  }
  return out;
}

Placement served_placement(const Placement& p) {
  const PhysicalLayout lay = physical_layout(p, /*require_full=*/false);
  if (lay.spare_slots_filled == 0) return p;
  Placement s = p;
  for (int l = 0; l < lay.num_layers; ++l) {
    std::vector<char> hosted(size_t(lay.num_experts) * lay.num_gpus(), 0), gained(size_t(lay.num_experts), 0);
    auto& experts = s.layers[size_t(l)].experts;
    for (int e = 0; e < lay.num_experts; ++e)
      for (const Instance& in : experts[size_t(e)].instances) hosted[size_t(e) * lay.num_gpus() + in.gpu] = 1;
    for (int q = 0; q < lay.num_physical(); ++q) {
      const int e = lay.row(l)[q], g = lay.gpu_of(q);
      if (e < 0 || hosted[size_t(e) * lay.num_gpus() + g]) continue;
      hosted[size_t(e) * lay.num_gpus() + g] = 1;
      experts[size_t(e)].instances.push_back(Instance{g, 1.0});
      gained[size_t(e)] = 1;
    }
    for (int e = 0; e < lay.num_experts; ++e)
      if (gained[size_t(e)])
        for (Instance& in : experts[size_t(e)].instances) in.weight = 1.0 / experts[size_t(e)].num_instances();
  }
  return s;
}

}  // namespace grace
