// Routers pick, for each (token, expert) pair the gate chose, which instance of the expert
// serves it. The gate's choice is never changed (the method is lossless). Routers are
// registered by name in one table (src/route/router_registry.cpp: name, factory, one-line
// description); router_infos() lists it and every CLI command's --router help is built from it.
//
// Decisions are deterministic functions of (seed, layer, token index, expert, batch content).
#ifndef GRACE_ROUTER_H_
#define GRACE_ROUTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grace/trace.h"

namespace grace {

struct Placement;
struct Topology;

// One layer of one batch.
struct RouteBatch {
  int layer = 0;
  int64_t num_tokens = 0;
  int top_k = 0;
  const expert_t* ids = nullptr;         // token t's ids at ids + t * ids_stride
  int64_t ids_stride = 0;                // top_k for a packed array; layers * top_k in a Trace
  const int* src_gpu = nullptr;          // [num_tokens] GPU the token lives on
  const int64_t* token_index = nullptr;  // [num_tokens] global token ids; null: 0..n-1
};

class Router {
 public:
  virtual ~Router() = default;
  virtual std::string_view name() const = 0;
  // Writes dest[t * top_k + j] = GPU serving (token t, its j-th expert).
  virtual void route(const RouteBatch& batch, int* dest) = 0;
};

// One registered router: its name and a one-line description of its rule.
struct RouterInfo {
  std::string name;
  std::string description;
};

// Every registered router, in registry order.
std::vector<RouterInfo> router_infos();
std::vector<std::string> router_names();
// The description of a registered router; throws InputError listing the valid names.
std::string router_description(std::string_view name);
// Throws InputError "<where>: unknown router '<name>' (valid: ...)" unless `name` is registered.
void check_router_name(std::string_view name, std::string_view where = "router");
// Whether the router sends a (token, expert) pair to an instance on the token's own node before
// any other node (tar, local-first, load-aware, cover). With the others (primary, wrr, round-robin,
// SGLang's rules) a replica on another node also draws pairs away from its expert's home node.
bool router_prefers_own_node(std::string_view name);
// Whether the router routes over the layout the serving system holds (serving.h
// served_placement: spare slots filled with extra replicas) rather than over the placement as
// planned: the SGLang routers. The evaluator counts such a router's traffic on that layout.
bool router_routes_served_layout(std::string_view name);
// Throws InputError listing the valid names.
std::unique_ptr<Router> make_router(std::string_view name, const Placement& placement, const Topology& topo,
                                    uint64_t seed = 0);

}  // namespace grace

#endif  // GRACE_ROUTER_H_
