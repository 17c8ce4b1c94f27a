// load-aware: grace's own router. Same tiers as tar (own GPU, else own node, else anywhere),
// but inside a tier with several candidates it takes the instance minimising
// (pairs already assigned to its GPU in this route() call + 1) / weight; ties go to the
// earlier instance (primary first). Two passes: every pair with a single candidate is
// assigned first (its load is fixed anyway), then the free choices, in token order.
// The load counters are reset at each route() call. The seed is unused (no random draws).
#include <vector>

#include "grace/error.h"
#include "route/router_impl.h"

namespace grace::route {
namespace {

class LoadAwareRouter final : public Router {
 public:
  explicit LoadAwareRouter(std::shared_ptr<const RoutingTable> t) : table_(std::move(t)) {}
  std::string_view name() const override { return "load-aware"; }

  void route(const RouteBatch& b, int* dest) override {
    const RoutingTable& tb = *table_;
    check_batch(tb, b);
    load_.assign(size_t(tb.num_gpus()), 0);
    const int k = b.top_k, gpn = tb.gpus_per_node(), E = tb.num_experts();
    const int N = tb.num_nodes();
    const int base = b.layer * E;
    // Tier-2/3 candidates of a token on node n: cand_* row (layer * N + n) * E.
    const int32_t* coff = tb.cand_offset().data() + size_t(b.layer) * N * E;
    const int32_t* cg = tb.cand_gpu().data();
    const float* cw = tb.cand_weight().data();
    int64_t* load = load_.data();

    // Pass 1: forced choices (own GPU, or a single candidate).
    bool any_free = false;
    for (int64_t t = 0; t < b.num_tokens; ++t) {
      const expert_t* ids = b.ids + t * b.ids_stride;
      const int src = b.src_gpu[t];
      const int32_t* off = coff + size_t(src / gpn) * E;
      for (int j = 0; j < k; ++j) {
        const int e = ids[j];
        int d = -1;
        if (tb.hosts(base + e, src))
          d = src;
        else if (off[e + 1] - off[e] == 1)
          d = cg[off[e]];
        dest[t * k + j] = d;
        if (d >= 0)
          ++load[d];
        else
          any_free = true;
      }
    }
    if (!any_free) return;
    // Pass 2: free choices among the tier's candidates, in token order.
    for (int64_t t = 0; t < b.num_tokens; ++t) {
      const expert_t* ids = b.ids + t * b.ids_stride;
      const int32_t* off = coff + size_t(b.src_gpu[t] / gpn) * E;
      for (int j = 0; j < k; ++j) {
        int& d = dest[t * k + j];
        if (d >= 0) continue;
        const int o = off[ids[j]], c = off[ids[j] + 1] - o;
        int best = o;
        for (int i = o + 1; i < o + c; ++i) {
          // (load_i + 1) / w_i < (load_best + 1) / w_best
          if (double(load[cg[i]] + 1) * cw[best] < double(load[cg[best]] + 1) * cw[i]) best = i;
        }
        d = cg[best];
        ++load[d];
      }
    }
  }

 private:
  std::shared_ptr<const RoutingTable> table_;
  std::vector<int64_t> load_;
};

}  // namespace

std::unique_ptr<Router> make_load_aware(std::shared_ptr<const RoutingTable> t, uint64_t seed) {
  return std::make_unique<LoadAwareRouter>(std::move(t));
}

}  // namespace grace::route
