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
  view_ = RoutingTableView{t.num_experts(), G, t.num_nodes(), t.gpus_per_node(), t.bit_words(),
                           inst_offset_.get(), inst_gpu_.get(), inst_cum_.get(),
                           cand_offset_.get(), cand_gpu_.get(), cand_cum_.get(),
                           host_bits_.get(), slot_of_.get(), gso_.get()};
}

}  // namespace grace::cuda
