// Router registry: names, the factory, and the batch check shared by all routers.
#include <fmt/format.h>

#include "grace/error.h"
#include "route/router_impl.h"

namespace grace {

std::vector<std::string> router_names() {
  return {"primary", "wrr", "tar", "round-robin", "local-first", "load-aware", "sglang-static", "sglang-dynamic"};
}

std::unique_ptr<Router> make_router(std::string_view name, const Placement& placement,
                                    const Topology& topo, uint64_t seed) {
  auto names = router_names();
  bool known = false;
  for (const auto& n : names) known = known || n == name;
  GRACE_INPUT_CHECK(known, "unknown router '{}' (valid: {})", name, fmt::join(names, ", "));
  if (name == "sglang-static") return route::make_sglang_static(placement, seed);
  if (name == "sglang-dynamic") return route::make_sglang_dynamic(placement, seed);
  auto table = std::make_shared<const RoutingTable>(placement, topo);
  if (name == "primary") return route::make_primary(table);
  if (name == "wrr") return route::make_wrr(table, seed);
  if (name == "tar") return route::make_tar(table, seed);
  if (name == "round-robin") return route::make_round_robin(table);
  if (name == "local-first") return route::make_local_first(table, seed);
  return route::make_load_aware(table, seed);
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
