// The stateless routers: primary, wrr, tar, round-robin, local-first, over the flat routing
// table (grace/routing_table.h). Weighted and uniform draws come from pick_hash, so decisions
// depend on (seed, layer, token index, expert) only.
//
// NOTES: wrr, tar and local-first run in two passes. Pass 1 settles every pair with one
// candidate (own GPU, or a single instance / single candidate) without branches on the data
// and appends the others to a list; pass 2 draws for the listed pairs. Mixing the two kinds
// of pair in one loop costs a mispredicted branch on most pairs.
#include <vector>

#include "grace/error.h"
#include "route/router_impl.h"

namespace grace::route {
namespace {

uint64_t token_of(const RouteBatch& b, int64_t t) {
  return b.token_index ? uint64_t(b.token_index[t]) : uint64_t(t);
}

// kLocal: tar's tiers (own GPU, then the cand_* lists of the token's node); else all instances.
// kWeighted: draw by the weights; else uniformly.
template <bool kLocal, bool kWeighted>
void route_two_pass(const RoutingTable& tb, const RouteBatch& b, int* dest, uint64_t seed,
                    std::vector<uint64_t>& slow) {
  check_batch(tb, b);
  GRACE_CHECK(b.top_k < 65536, "route: top_k {} too large", b.top_k);
  const int k = b.top_k, E = tb.num_experts(), N = tb.num_nodes(), W = tb.bit_words();
  const int gpn = tb.gpus_per_node();
  const int32_t* lst_off = kLocal ? tb.cand_offset().data() + size_t(b.layer) * N * E
                                  : tb.inst_offset().data() + size_t(b.layer) * E;
  const int32_t* lst_gpu = kLocal ? tb.cand_gpu().data() : tb.inst_gpu().data();
  const uint32_t* lst_cum = kLocal ? tb.cand_cum().data() : tb.inst_cum().data();
  const uint32_t* bits = tb.host_bits().data() + size_t(b.layer) * E * W;
  slow.resize(size_t(b.num_tokens) * k);
  uint64_t* sl = slow.data();
  size_t ns = 0;
  for (int64_t t = 0; t < b.num_tokens; ++t) {
    const expert_t* ids = b.ids + t * b.ids_stride;
    const int src = b.src_gpu[t];
    const int32_t* off = kLocal ? lst_off + size_t(src / gpn) * E : lst_off;
    const uint32_t* bw = bits + (src >> 5);
    const int sh = src & 31;
    int* out = dest + t * k;
    for (int j = 0; j < k; ++j) {
      const int e = ids[j];
      const int o = off[e];
      int d = lst_gpu[o];
      bool draw = off[e + 1] - o > 1;
      if constexpr (kLocal) {
        const bool own = (bw[size_t(e) * W] >> sh) & 1u;
        d = own ? src : d;
        draw = draw && !own;
      }
      out[j] = d;
      sl[ns] = (uint64_t(t) << 16) | uint64_t(j);
      ns += draw;
    }
  }
  const uint32_t layer = uint32_t(b.layer);
  for (size_t i = 0; i < ns; ++i) {
    const int64_t t = int64_t(sl[i] >> 16);
    const int j = int(sl[i] & 0xffff);
    const int e = b.ids[t * b.ids_stride + j];
    const int32_t* off = kLocal ? lst_off + size_t(b.src_gpu[t] / gpn) * E : lst_off;
    const int o = off[e], c = off[e + 1] - o;
    const uint64_t h = pick_hash(seed, layer, token_of(b, t), uint32_t(e));
    const int idx = kWeighted ? pick_weighted(lst_cum + o, c, uint32_t(h >> 33)) : pick_uniform(h, c);
    dest[t * k + j] = lst_gpu[o + idx];
  }
}

class TableRouter : public Router {
 public:
  TableRouter(std::shared_ptr<const RoutingTable> t, uint64_t seed)
      : table_(std::move(t)), seed_(seed) {}

 protected:
  std::shared_ptr<const RoutingTable> table_;
  uint64_t seed_;
  std::vector<uint64_t> slow_;  // pass-2 pairs (reused between calls)
};

// Single-pass routers: instances of le are inst_gpu[o .. o+c).
template <typename Pick>
void route_direct(const RoutingTable& tb, const RouteBatch& b, int* dest, const Pick& pick) {
  check_batch(tb, b);
  const int k = b.top_k;
  const int32_t* off = tb.inst_offset().data() + size_t(b.layer) * tb.num_experts();
  for (int64_t t = 0; t < b.num_tokens; ++t) {
    const expert_t* ids = b.ids + t * b.ids_stride;
    const uint64_t tok = token_of(b, t);
    for (int j = 0; j < k; ++j) {
      const int o = off[ids[j]];
      dest[t * k + j] = pick(o, off[ids[j] + 1] - o, tok);
    }
  }
}

class PrimaryRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "primary"; }
  void route(const RouteBatch& b, int* dest) override {
    const int32_t* gpu = table_->inst_gpu().data();
    route_direct(*table_, b, dest, [gpu](int o, int, uint64_t) { return gpu[o]; });
  }
};

class RoundRobinRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "round-robin"; }
  void route(const RouteBatch& b, int* dest) override {
    const int32_t* gpu = table_->inst_gpu().data();
    route_direct(*table_, b, dest, [gpu](int o, int c, uint64_t tok) {
      return c == 1 ? gpu[o] : gpu[o + int(tok % uint64_t(c))];
    });
  }
};

class WrrRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "wrr"; }
  void route(const RouteBatch& b, int* dest) override {
    route_two_pass<false, true>(*table_, b, dest, seed_, slow_);
  }
};

class TarRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "tar"; }
  void route(const RouteBatch& b, int* dest) override {
    route_two_pass<true, true>(*table_, b, dest, seed_, slow_);
  }
};

class LocalFirstRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "local-first"; }
  void route(const RouteBatch& b, int* dest) override {
    route_two_pass<true, false>(*table_, b, dest, seed_, slow_);
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
