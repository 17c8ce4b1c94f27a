// Router registry: the one table of routers (name, factory, description), and the batch check
// shared by all routers. A new router is one entry in kRouters.
#include <fmt/format.h>

#include <utility>

#include "grace/error.h"
#include "route/router_impl.h"

namespace grace {
namespace {

// A factory gets what a router may need: the placement, the topology and the seed. Most
// routers share the placement's routing table (table()).
using Factory = std::unique_ptr<Router> (*)(const Placement& placement, const Topology& topo, uint64_t seed);

struct RouterEntry {
  std::string_view name;
  Factory make;
  std::string_view description;
  // Prefers an instance on the token's own node to one elsewhere (grace/router.h
  // router_prefers_own_node).
  bool own_node_first = false;
  bool served_layout = false;  // routes over serving.h's served_placement (spare slots filled)
};

std::shared_ptr<const RoutingTable> table(const Placement& p, const Topology& t) {
  return std::make_shared<const RoutingTable>(p, t);
}

const RouterEntry kRouters[] = {
    {"primary", [](const Placement& p, const Topology& t, uint64_t) { return route::make_primary(table(p, t)); },
     "always the expert's primary instance"},
    {"wrr", [](const Placement& p, const Topology& t, uint64_t s) { return route::make_wrr(table(p, t), s); },
     "weighted choice by the placement's weights, ignoring locality"},
    {"tar", [](const Placement& p, const Topology& t, uint64_t s) { return route::make_tar(table(p, t), s); },
     "topology-aware: own GPU, else own node by weight, else all by weight", true},
    {"round-robin",
     [](const Placement& p, const Topology& t, uint64_t) { return route::make_round_robin(table(p, t)); },
     "token index mod number of instances (vLLM)"},
    {"local-first",
     [](const Placement& p, const Topology& t, uint64_t s) { return route::make_local_first(table(p, t), s); },
     "own GPU, else own node, else uniform random over the instances", true},
    {"load-aware",
     [](const Placement& p, const Topology& t, uint64_t s) { return route::make_load_aware(table(p, t), s); },
     "tar's tiers, balanced by the load already routed this batch (grace)", true},
    {"cover", [](const Placement& p, const Topology& t, uint64_t) { return route::make_cover(table(p, t)); },
     "own node, else the fewest remote nodes; each pair on its least loaded instance there (own GPU on ties) (grace)",
     true},
    {"sglang-static", [](const Placement& p, const Topology&, uint64_t s) { return route::make_sglang_static(p, s); },
     "SGLang's static dispatch over the exported layout: own GPU's copy, else a fair random copy anywhere", false,
     true},
    {"sglang-dynamic", [](const Placement& p, const Topology&, uint64_t s) { return route::make_sglang_dynamic(p, s); },
     "SGLang's dynamic dispatch: uniform over the exported physical copies", false, true},
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

bool router_prefers_own_node(std::string_view name) {
  check_router_name(name);
  return find_router(name)->own_node_first;
}

bool router_routes_served_layout(std::string_view name) {
  check_router_name(name);
  return find_router(name)->served_layout;
}

std::string router_description(std::string_view name) {
  check_router_name(name);
  return std::string(find_router(name)->description);
}

std::unique_ptr<Router> make_router(std::string_view name, const Placement& placement, const Topology& topo,
                                    uint64_t seed) {
  check_router_name(name);
  return find_router(name)->make(placement, topo, seed);
}

namespace route {

void check_batch(const RoutingTable& table, const RouteBatch& b) {
  GRACE_CHECK(b.layer >= 0 && b.layer < table.num_layers(), "route: layer {} out of range [0, {})", b.layer,
              table.num_layers());
  GRACE_CHECK(b.num_tokens >= 0, "route: negative token count {}", b.num_tokens);
  if (b.num_tokens == 0) return;
  GRACE_CHECK(b.top_k > 0 && b.ids && b.src_gpu, "route: empty batch description");
  GRACE_CHECK(b.ids_stride >= b.top_k, "route: ids_stride {} < top_k {}", b.ids_stride, b.top_k);
}

}  // namespace route
}  // namespace grace
