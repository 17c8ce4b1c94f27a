// DeviceRoutingTable: the flat routing table copied to device memory; the GPU router table.
#include <fmt/format.h>

#include <algorithm>

#include "grace/cuda/routing.h"
#include "grace/error.h"
#include "grace/router.h"
#include "grace/routing_table.h"

namespace grace::cuda {

namespace {

// The routers with a device kernel, by their names in the router registry (grace/router.h).
struct DeviceRouterEntry {
  std::string_view name;
  DeviceRouter router;
};
const DeviceRouterEntry kDeviceRouters[] = {{"primary", DeviceRouter::kPrimary}, {"tar", DeviceRouter::kTar}};

// tar's decision for every (layer, source GPU, expert), encoded as grace/cuda/routing.h's
// TarDecision; the same steps as route_pair_in<true> (cuda/route_device.cuh).
std::vector<uint32_t> tar_decisions(const RoutingTable& t) {
  const int L = t.num_layers(), E = t.num_experts(), G = t.num_gpus(), N = t.num_nodes(), gpn = t.gpus_per_node();
  const auto& io = t.inst_offset();
  const auto& co = t.cand_offset();
  std::vector<uint32_t> out(size_t(L) * G * E, tar_decision::kFull);
  for (int l = 0; l < L; ++l) {
    const int32_t cand_base = co[size_t(l) * N * E];
    const int32_t* gso = t.gpu_slot_offset(l);
    for (int s = 0; s < G; ++s) {
      for (int e = 0; e < E; ++e) {
        const int le = l * E + e;
        uint32_t& w = out[(size_t(l) * G + s) * E + e];
        const int c = io[le + 1] - io[le];
        int g = -1;
        if (c == 1) {
          g = t.inst_gpu()[io[le]];
        } else if (c > 1 && t.hosts(le, s)) {
          g = s;
        } else if (c > 1) {
          const size_t lne = (size_t(l) * N + s / gpn) * E + e;
          const int32_t c0 = co[lne], cn = co[lne + 1] - c0;
          if (cn == 1)
            g = t.cand_gpu()[c0];
          else if (cn > 1 && cn < 0x800 && c0 - cand_base >= 0 && c0 - cand_base < 0x100000)
            w = tar_decision::kDraw | uint32_t(cn) << 20 | uint32_t(c0 - cand_base);
        }
        if (g < 0) continue;
        const int slot = gso[g] + t.slot_of(le, g);
        if (g < 0x7fff && slot >= 0 && slot < 0xffff) w = uint32_t(g) << 16 | uint32_t(slot);
      }
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> device_router_names() {
  std::vector<std::string> out;
  for (const auto& e : kDeviceRouters) out.emplace_back(e.name);
  return out;
}

DeviceRouter parse_device_router(std::string_view name) {
  check_router_name(name);  // an unknown name gets the registry's list
  for (const auto& e : kDeviceRouters)
    if (e.name == name) return e.router;
  fail_input("router '{}' has no GPU kernel (GPU routers: {})", name, fmt::join(device_router_names(), ", "));
}

DeviceRoutingTable::DeviceRoutingTable(const RoutingTable& t) {
  inst_offset_.upload(t.inst_offset().data(), t.inst_offset().size());
  inst_gpu_.upload(t.inst_gpu().data(), t.inst_gpu().size());
  inst_cum_.upload(t.inst_cum().data(), t.inst_cum().size());
  cand_offset_.upload(t.cand_offset().data(), t.cand_offset().size());
  cand_gpu_.upload(t.cand_gpu().data(), t.cand_gpu().size());
  cand_cum_.upload(t.cand_cum().data(), t.cand_cum().size());
  host_bits_.upload(t.host_bits().data(), t.host_bits().size());
  slot_of_.upload(t.slot_of().data(), t.slot_of().size());
  const int L = t.num_layers(), G = t.num_gpus();
  std::vector<int32_t> gso(size_t(L) * (G + 1));
  slots_per_layer_.resize(L);
  slices_.resize(L);
  const int E = t.num_experts(), NE = t.num_nodes() * E;
  for (int l = 0; l < L; ++l) {
    const auto& io = t.inst_offset();
    const auto& co = t.cand_offset();
    slices_[l] = RoutingTableSlice{io[size_t(l) * E], io[size_t(l + 1) * E] - io[size_t(l) * E],
                                   co[size_t(l) * NE], co[size_t(l + 1) * NE] - co[size_t(l) * NE]};
    const int32_t* off = t.gpu_slot_offset(l);
    std::copy(off, off + G + 1, gso.begin() + size_t(l) * (G + 1));
    slots_per_layer_[l] = off[G];
  }
  gso_.upload(gso.data(), gso.size());
  const std::vector<uint32_t> dec = tar_decisions(t);
  tar_decision_.upload(dec.data(), dec.size());
  view_ = RoutingTableView{t.num_experts(), G, t.num_nodes(), t.gpus_per_node(), t.bit_words(),
                           inst_offset_.get(), inst_gpu_.get(), inst_cum_.get(),
                           cand_offset_.get(), cand_gpu_.get(), cand_cum_.get(),
                           host_bits_.get(), slot_of_.get(), gso_.get(), tar_decision_.get()};
}

}  // namespace grace::cuda
