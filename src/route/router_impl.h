// Private to src/route: the router implementations share a routing table and a common shape.
#ifndef GRACE_ROUTE_ROUTER_IMPL_H_
#define GRACE_ROUTE_ROUTER_IMPL_H_

#include <memory>

#include "grace/router.h"
#include "grace/routing_table.h"

namespace grace::route {

// Checks what every router relies on: layer in range, top_k > 0, ids and src_gpu present.
// Expert ids (< num_experts) and source GPUs (< num_gpus) are the caller's contract.
void check_batch(const RoutingTable& table, const RouteBatch& batch);

std::unique_ptr<Router> make_primary(std::shared_ptr<const RoutingTable> t);
std::unique_ptr<Router> make_wrr(std::shared_ptr<const RoutingTable> t, uint64_t seed);
std::unique_ptr<Router> make_tar(std::shared_ptr<const RoutingTable> t, uint64_t seed);
std::unique_ptr<Router> make_round_robin(std::shared_ptr<const RoutingTable> t);
std::unique_ptr<Router> make_local_first(std::shared_ptr<const RoutingTable> t, uint64_t seed);
std::unique_ptr<Router> make_load_aware(std::shared_ptr<const RoutingTable> t, uint64_t seed);
std::unique_ptr<Router> make_cover(std::shared_ptr<const RoutingTable> t);
// SGLang's dispatch rules over the exported physical layout (sglang_routers.cpp).
std::unique_ptr<Router> make_sglang_static(const Placement& p, uint64_t seed);
std::unique_ptr<Router> make_sglang_dynamic(const Placement& p, uint64_t seed);

}  // namespace grace::route

#endif  // GRACE_ROUTE_ROUTER_IMPL_H_
