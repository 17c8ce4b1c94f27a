// The stateless routers: primary, wrr, tar, round-robin, local-first, over the flat routing
// table (grace/routing_table.h). Weighted and uniform draws come from pick_hash, so decisions
// depend on (seed, layer, token index, expert) only.
//
// NOTES: wrr, tar and local-first run in two passes. Pass 1 settles every pair with one
// candidate (own GPU, or a single instance / single candidate) without branches on the data
// and appends the others to a list; pass 2 draws for the listed pairs. Mixing the two kinds
// of pair in one loop costs a mispredicted branch on most pairs.
// tar and local-first settle pass 1 from a decision table built once per router (settle_local:
// one load per pair instead of the host bits, two offsets and a GPU id), and pass 1 leaves in
// dest the offset of the list a draw picks from. bench/route_python.py times it from Python.
#include <algorithm>
#include <vector>

#include "grace/error.h"
#include "route/router_impl.h"

namespace grace::route {
namespace {

uint64_t token_of(const RouteBatch& b, int64_t t) { return b.token_index ? uint64_t(b.token_index[t]) : uint64_t(t); }

// pick_weighted for the common short lists without a loop (its exit mispredicts on most
// draws): with n <= 4, thresholds past n - 1 are read as cum[n - 1] = kWeightOne, which no draw
// reaches, so the count is the same.
inline int pick_weighted_short(const uint32_t* cum, int n, uint32_t r) {
  if (n > 4) return pick_weighted(cum, n, r);
  const int last = n - 1;
  return int(r >= cum[0]) + int(r >= cum[std::min(1, last)]) + int(r >= cum[std::min(2, last)]);
}

// kLocal: tar's tiers (own GPU, then the cand_* lists of the token's node), pass 1 from
// `settled` (below); else all instances. kWeighted: draw by the weights; else uniformly.
template <bool kLocal, bool kWeighted>
void route_two_pass(const RoutingTable& tb, const RouteBatch& b, int* dest, uint64_t seed, std::vector<uint64_t>& slow,
                    const int32_t* settled, const int32_t* list_len) {
  check_batch(tb, b);
  GRACE_CHECK(b.top_k < 65536, "route: top_k {} too large", b.top_k);
  const int k = b.top_k, E = tb.num_experts(), N = tb.num_nodes();
  const int32_t* lst_off =
      kLocal ? tb.cand_offset().data() + size_t(b.layer) * N * E : tb.inst_offset().data() + size_t(b.layer) * E;
  const int32_t* lst_gpu = kLocal ? tb.cand_gpu().data() : tb.inst_gpu().data();
  const uint32_t* lst_cum = kLocal ? tb.cand_cum().data() : tb.inst_cum().data();
  slow.resize(size_t(b.num_tokens) * k);
  uint64_t* sl = slow.data();
  size_t ns = 0;
  const int32_t* set = kLocal ? settled + size_t(b.layer) * tb.num_gpus() * E : nullptr;
  const int64_t n = b.num_tokens, stride = b.ids_stride;
  const expert_t* all_ids = b.ids;
  const int* src_gpu = b.src_gpu;
  for (int64_t t = 0; t < n; ++t) {
    const expert_t* ids = all_ids + t * stride;
    int* out = dest + t * k;
    const uint64_t key = uint64_t(t) << 16;
    if constexpr (kLocal) {
      const int32_t* row = set + size_t(src_gpu[t]) * E;
      for (int j = 0; j < k; ++j) {
        const int d = row[ids[j]];
        out[j] = d;
        sl[ns] = key | uint64_t(j);
        ns += d < 0;
      }
    } else {
      for (int j = 0; j < k; ++j) {
        const int o = lst_off[ids[j]];
        out[j] = lst_gpu[o];
        sl[ns] = key | uint64_t(j);
        ns += lst_off[ids[j] + 1] - o > 1;
      }
    }
  }
  const uint32_t layer = uint32_t(b.layer);
  for (size_t i = 0; i < ns; ++i) {
    const int64_t t = int64_t(sl[i] >> 16);
    const int j = int(sl[i] & 0xffff);
    int* d = dest + t * k + j;
    int e;
    e = b.ids[t * b.ids_stride + j];
    int o, c;
    if constexpr (kLocal) {  // pass 1 left -1 - (offset of the candidate list) there
      o = -1 - *d;
      c = list_len[o];
    } else {
      o = lst_off[e];
      c = lst_off[e + 1] - o;
    }
    const uint64_t h = pick_hash(seed, layer, token_of(b, t), uint32_t(e));
    const int idx = kWeighted ? pick_weighted_short(lst_cum + o, c, uint32_t(h >> 33)) : pick_uniform(h, c);
    *d = lst_gpu[o + idx];
  }
}

// settled[(layer * G + gpu) * E + expert] for tar / local-first: the GPU serving the pair
// without a draw (own GPU if it hosts the expert, else the only candidate), or, when the pair
// draws among its node's candidates, -1 - (the list's offset in cand_gpu / cand_cum).
std::vector<int32_t> settle_local(const RoutingTable& tb) {
  const int L = tb.num_layers(), E = tb.num_experts(), G = tb.num_gpus(), gpn = tb.gpus_per_node();
  std::vector<int32_t> s(size_t(L) * G * E);
  const int32_t* off = tb.cand_offset().data();
  const int32_t* gpu = tb.cand_gpu().data();
  for (int l = 0; l < L; ++l)
    for (int g = 0; g < G; ++g)
      for (int e = 0; e < E; ++e) {
        const int lne = tb.lne(l, g / gpn, e);
        const int o = off[lne];
        const int32_t draw = -1 - o;
        s[(size_t(l) * G + g) * E + e] = tb.hosts(tb.le(l, e), g) ? g : off[lne + 1] - o == 1 ? gpu[o] : draw;
      }
  return s;
}

class TableRouter : public Router {
 public:
  TableRouter(std::shared_ptr<const RoutingTable> t, uint64_t seed) : table_(std::move(t)), seed_(seed) {}

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
    route_direct(*table_, b, dest,
                 [gpu](int o, int c, uint64_t tok) { return c == 1 ? gpu[o] : gpu[o + int(tok % uint64_t(c))]; });
  }
};

class WrrRouter final : public TableRouter {
 public:
  using TableRouter::TableRouter;
  std::string_view name() const override { return "wrr"; }
  void route(const RouteBatch& b, int* dest) override {
    route_two_pass<false, true>(*table_, b, dest, seed_, slow_, nullptr, nullptr);
  }
};

// tar (weighted draws) and local-first (uniform draws).
template <bool kWeighted>
class LocalRouter final : public TableRouter {
 public:
  LocalRouter(std::shared_ptr<const RoutingTable> t, uint64_t seed)
      : TableRouter(std::move(t), seed), settled_(settle_local(*table_)) {
    // list_len_[o]: the length of the candidate list that starts at o (pass 2's draws).
    const std::vector<int32_t>& off = table_->cand_offset();
    list_len_.assign(table_->cand_gpu().size(), 0);
    for (size_t i = 0; i + 1 < off.size(); ++i)
      if (off[i + 1] > off[i]) list_len_[size_t(off[i])] = off[i + 1] - off[i];
  }
  std::string_view name() const override { return kWeighted ? "tar" : "local-first"; }
  void route(const RouteBatch& b, int* dest) override {
    route_two_pass<true, kWeighted>(*table_, b, dest, seed_, slow_, settled_.data(), list_len_.data());
  }

 private:
  std::vector<int32_t> settled_;
  std::vector<int32_t> list_len_;
};

}  // namespace

std::unique_ptr<Router> make_primary(std::shared_ptr<const RoutingTable> t) {
  return std::make_unique<PrimaryRouter>(std::move(t), 0);
}
std::unique_ptr<Router> make_wrr(std::shared_ptr<const RoutingTable> t, uint64_t seed) {
  return std::make_unique<WrrRouter>(std::move(t), seed);
}
std::unique_ptr<Router> make_tar(std::shared_ptr<const RoutingTable> t, uint64_t seed) {
  return std::make_unique<LocalRouter<true>>(std::move(t), seed);
}
std::unique_ptr<Router> make_round_robin(std::shared_ptr<const RoutingTable> t) {
  return std::make_unique<RoundRobinRouter>(std::move(t), 0);
}
std::unique_ptr<Router> make_local_first(std::shared_ptr<const RoutingTable> t, uint64_t seed) {
  return std::make_unique<LocalRouter<false>>(std::move(t), seed);
}

}  // namespace grace::route
