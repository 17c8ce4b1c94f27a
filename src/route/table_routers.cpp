// The stateless routers: primary, wrr, tar, round-robin, local-first. Each is one tight loop
// over the flat routing table (grace/routing_table.h); a pair whose expert has one instance
// takes the fast path. Weighted and uniform draws come from pick_hash, so decisions depend on
// (seed, layer, token index, expert) only.
#include "grace/error.h"
#include "route/router_impl.h"

namespace grace::route {
namespace {

// The loop shared by all table routers: Rule::pick(le, o, c, src, node, tok, expert) -> GPU,
// called only for experts with c >= 2 instances.
template <typename Rule>
void route_loop(const RoutingTable& tb, const RouteBatch& b, int* dest, const Rule& rule) {
  check_batch(tb, b);
  const int k = b.top_k;
  const int gpn = tb.gpus_per_node();
  const int base = b.layer * tb.num_experts();
  const int32_t* off = tb.inst_offset().data();
  const int32_t* gpu = tb.inst_gpu().data();
  for (int64_t t = 0; t < b.num_tokens; ++t) {
    const expert_t* ids = b.ids + t * b.ids_stride;
    const int src = b.src_gpu[t];
    const int node = src / gpn;
    const uint64_t tok = b.token_index ? uint64_t(b.token_index[t]) : uint64_t(t);
    int* out = dest + t * k;
    for (int j = 0; j < k; ++j) {
      const int e = ids[j];
      const int le = base + e;
      const int o = off[le];
      const int c = off[le + 1] - o;
      out[j] = c == 1 ? gpu[o] : rule(le, o, c, src, node, tok, e);
    }
  }
}

class TableRouter : public Router {
 public:
  TableRouter(std::shared_ptr<const RoutingTable> t, uint64_t seed)
      : table_(std::move(t)), seed_(seed) {}

 protected:
  std::shared_ptr<const RoutingTable> table_;
  uint64_t seed_;
};

class PrimaryRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "primary"; }
  void route(const RouteBatch& b, int* dest) override {
    const int32_t* gpu = table_->inst_gpu().data();
    route_loop(*table_, b, dest, [&](int, int o, int, int, int, uint64_t, int) { return gpu[o]; });
  }
};

class WrrRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "wrr"; }
  void route(const RouteBatch& b, int* dest) override {
    const RoutingTable& tb = *table_;
    const int32_t* gpu = tb.inst_gpu().data();
    const uint32_t* cum = tb.inst_cum().data();
    const uint64_t seed = seed_;
    const uint32_t layer = uint32_t(b.layer);
    route_loop(tb, b, dest, [&](int, int o, int c, int, int, uint64_t tok, int e) {
      const uint64_t h = pick_hash(seed, layer, tok, uint32_t(e));
      return gpu[o + pick_weighted(cum + o, c, uint32_t(h >> 33))];
    });
  }
};

class TarRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "tar"; }
  void route(const RouteBatch& b, int* dest) override {
    const RoutingTable& tb = *table_;
    const int32_t* gpu = tb.inst_gpu().data();
    const uint32_t* cum = tb.inst_cum().data();
    const int32_t* noff = tb.node_offset().data();
    const int32_t* ngpu = tb.node_gpu().data();
    const uint32_t* ncum = tb.node_cum().data();
    const uint32_t* bits = tb.host_bits().data();
    const int W = tb.bit_words(), N = tb.num_nodes();
    const uint64_t seed = seed_;
    const uint32_t layer = uint32_t(b.layer);
    route_loop(tb, b, dest, [&](int le, int o, int c, int src, int node, uint64_t tok, int e) {
      if ((bits[size_t(le) * W + (src >> 5)] >> (src & 31)) & 1u) return src;  // own GPU
      const int len = le * N + node;
      const int no = noff[len], nc = noff[len + 1] - no;
      if (nc == 1) return ngpu[no];
      const uint32_t r = uint32_t(pick_hash(seed, layer, tok, uint32_t(e)) >> 33);
      if (nc > 1) return ngpu[no + pick_weighted(ncum + no, nc, r)];  // own node, by weight
      return gpu[o + pick_weighted(cum + o, c, r)];                    // anywhere, by weight
    });
  }
};

class RoundRobinRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "round-robin"; }
  void route(const RouteBatch& b, int* dest) override {
    const int32_t* gpu = table_->inst_gpu().data();
    route_loop(*table_, b, dest, [&](int, int o, int c, int, int, uint64_t tok, int) {
      return gpu[o + int(tok % uint64_t(c))];
    });
  }
};

class LocalFirstRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "local-first"; }
  void route(const RouteBatch& b, int* dest) override {
    const RoutingTable& tb = *table_;
    const int32_t* gpu = tb.inst_gpu().data();
    const int32_t* noff = tb.node_offset().data();
    const int32_t* ngpu = tb.node_gpu().data();
    const int N = tb.num_nodes();
    const uint64_t seed = seed_;
    const uint32_t layer = uint32_t(b.layer);
    route_loop(tb, b, dest, [&](int le, int o, int c, int src, int node, uint64_t tok, int e) {
      if (tb.hosts(le, src)) return src;
      const int len = le * N + node;
      const int no = noff[len], nc = noff[len + 1] - no;
      if (nc == 1) return ngpu[no];
      const uint64_t h = pick_hash(seed, layer, tok, uint32_t(e));
      if (nc > 1) return ngpu[no + pick_uniform(h, nc)];  // own node, uniform
      return gpu[o + pick_uniform(h, c)];                  // all remote: uniform
    });
  }
};

}  // namespace

std::unique_ptr<Router> make_primary(std::shared_ptr<const RoutingTable> t) {
  return std::make_unique<PrimaryRouter>(std::move(t), 0);
}
std::unique_ptr<Router> make_wrr(std::shared_ptr<const RoutingTable> t, uint64_t seed) {
  return std::make_unique<WrrRouter>(std::move(t), seed);
}
std::unique_ptr<Router> make_tar(std::shared_ptr<const RoutingTable> t, uint64_t seed) {
  return std::make_unique<TarRouter>(std::move(t), seed);
}
std::unique_ptr<Router> make_round_robin(std::shared_ptr<const RoutingTable> t) {
  return std::make_unique<RoundRobinRouter>(std::move(t), 0);
}
std::unique_ptr<Router> make_local_first(std::shared_ptr<const RoutingTable> t, uint64_t seed) {
  return std::make_unique<LocalFirstRouter>(std::move(t), seed);
}

}  // namespace grace::route
