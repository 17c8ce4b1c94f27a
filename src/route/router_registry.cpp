// Router registry: the one table of routers (name, factory, description), and the batch check
// shared by all routers. A new router is one line in kRouters.
#include <fmt/format.h>

#include <utility>

#include "grace/error.h"
#include "route/router_impl.h"

namespace grace {
namespace {

using TablePtr = std::shared_ptr<const RoutingTable>;
using Factory = std::unique_ptr<Router> (*)(TablePtr table, uint64_t seed);

struct RouterEntry {
  std::string_view name;
  Factory make;
  std::string_view description;
};

const RouterEntry kRouters[] = {
    {"primary", [](TablePtr t, uint64_t) { return route::make_primary(std::move(t)); },
     "always the expert's primary instance"},
    {"wrr", [](TablePtr t, uint64_t s) { return route::make_wrr(std::move(t), s); },
     "weighted choice by the placement's weights, ignoring locality"},
    {"tar", [](TablePtr t, uint64_t s) { return route::make_tar(std::move(t), s); },
     "topology-aware: own GPU, else own node by weight, else all by weight"},
    {"round-robin", [](TablePtr t, uint64_t) { return route::make_round_robin(std::move(t)); },
     "token index mod number of instances (vLLM)"},
    {"local-first", [](TablePtr t, uint64_t s) { return route::make_local_first(std::move(t), s); },
     "own GPU, else own node, else uniform random (SGLang static dispatch)"},
    {"load-aware", [](TablePtr t, uint64_t s) { return route::make_load_aware(std::move(t), s); },
     "tar's tiers, balanced by the load already routed this batch (grace)"},
};

const RouterEntry* find_router(std::string_view name) {
  for (const auto& e : kRouters)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace

std::vector<RouterInfo> router_infos() {
  std::vector<RouterInfo> out;
  for (const auto& e : kRouters) out.push_back({std::string(e.name), std::string(e.description)});
  return out;
}

std::vector<std::string> router_names() {
  std::vector<std::string> out;
  for (const auto& e : kRouters) out.emplace_back(e.name);
  return out;
}

void check_router_name(std::string_view name, std::string_view where) {
  GRACE_INPUT_CHECK(find_router(name) != nullptr, "{}: unknown router '{}' (valid: {})", where, name,
                    fmt::join(router_names(), ", "));
}

std::string router_description(std::string_view name) {
  check_router_name(name);
  return std::string(find_router(name)->description);
}

std::unique_ptr<Router> make_router(std::string_view name, const Placement& placement,
                                    const Topology& topo, uint64_t seed) {
  check_router_name(name);
  return find_router(name)->make(std::make_shared<const RoutingTable>(placement, topo), seed);
}

namespace route {

void check_batch(const RoutingTable& table, const RouteBatch& b) {
  GRACE_CHECK(b.layer >= 0 && b.layer < table.num_layers(), "route: layer {} out of range [0, {})",
              b.layer, table.num_layers());
  GRACE_CHECK(b.num_tokens >= 0, "route: negative token count {}", b.num_tokens);
  if (b.num_tokens == 0) return;
  GRACE_CHECK(b.top_k > 0 && b.ids && b.src_gpu, "route: empty batch description");
  GRACE_CHECK(b.ids_stride >= b.top_k, "route: ids_stride {} < top_k {}", b.ids_stride, b.top_k);
}

}  // namespace route
}  // namespace grace
