// sglang-static and sglang-dynamic: SGLang's two dispatch rules, in expectation, over the
// physical layout grace exports to SGLang (grace/serving.h: spare slots filled with replicas).
//
// SGLang (python/sglang/srt/eplb/expert_location.py, expert_location_dispatch.py):
//   static  compute_logical_to_rank_dispatch_physical_map fixes, per EP rank and (layer,
//           logical expert), one physical copy: the rank's own copy if it has one (the first in
//           physical order), else a "fair" random choice over ALL the expert's physical copies,
//           on any node (_fair_choices: each copy is given to floor or ceil of the ranks left /
//           copies; Python's random.Random(42)). A token on rank r goes to that copy.
//   dynamic each token draws uniformly over all physical copies (randint % num_valid).
// Neither looks at nodes nor at grace's weights; copies are counted per physical slot.
//
// The emulation routes each (token, expert) pair as the rule does in expectation: static: own
// GPU if it holds a copy, else a uniform draw over the expert's copies (per token, from
// pick_hash, so shares match the fair assignment averaged over SGLang's random seed);
// dynamic: a uniform draw over the copies.
#include <vector>

#include "grace/error.h"
#include "grace/routing_table.h"
#include "grace/serving.h"
#include "route/router_impl.h"

namespace grace::route {
namespace {

class SglangRouter final : public Router {
 public:
  SglangRouter(const Placement& p, uint64_t seed, bool is_static) : seed_(seed), static_(is_static) {
    const PhysicalLayout lay = physical_layout(p, /*require_full=*/false);
    L_ = lay.num_layers;
    E_ = lay.num_experts;
    G_ = lay.num_gpus();
    offset_.assign(size_t(L_) * E_ + 1, 0);
    own_.assign(size_t(L_) * E_ * G_, 0);
    std::vector<std::vector<int32_t>> lists(size_t(L_) * E_);
    for (int l = 0; l < L_; ++l)
      for (int q = 0; q < lay.num_physical(); ++q) {
        const int e = lay.row(l)[q], g = lay.gpu_of(q);
        if (e < 0) continue;  // a slot no distinct expert could fill (more slots than experts)
        lists[size_t(l) * E_ + e].push_back(g);
        own_[(size_t(l) * E_ + e) * G_ + g] = 1;
      }
    for (size_t i = 0; i < lists.size(); ++i) {
      offset_[i + 1] = offset_[i] + int32_t(lists[i].size());
      copy_gpu_.insert(copy_gpu_.end(), lists[i].begin(), lists[i].end());
    }
  }

  std::string_view name() const override { return static_ ? "sglang-static" : "sglang-dynamic"; }

  void route(const RouteBatch& b, int* dest) override {
    GRACE_CHECK(b.layer >= 0 && b.layer < L_, "route: layer {} out of range [0, {})", b.layer, L_);
    if (b.num_tokens == 0) return;
    GRACE_CHECK(b.top_k > 0 && b.ids && b.src_gpu && b.ids_stride >= b.top_k, "route: bad batch description");
    const size_t base = size_t(b.layer) * E_;
    for (int64_t t = 0; t < b.num_tokens; ++t) {
      const expert_t* ids = b.ids + t * b.ids_stride;
      const int src = b.src_gpu[t];
      const uint64_t tok = b.token_index ? uint64_t(b.token_index[t]) : uint64_t(t);
      for (int j = 0; j < b.top_k; ++j) {
        const size_t le = base + ids[j];
        if (static_ && own_[le * G_ + size_t(src)]) {
          dest[t * b.top_k + j] = src;
          continue;
        }
        const int o = offset_[le], c = offset_[le + 1] - o;
        dest[t * b.top_k + j] =
            c == 1 ? copy_gpu_[size_t(o)]
                   : copy_gpu_[size_t(o + pick_uniform(pick_hash(seed_, uint32_t(b.layer), tok, uint32_t(ids[j])), c))];
      }
    }
  }

 private:
  uint64_t seed_;
  bool static_;
  int L_ = 0, E_ = 0, G_ = 0;
  std::vector<int32_t> offset_;    // [L*E + 1] into copy_gpu_
  std::vector<int32_t> copy_gpu_;  // GPU of each physical copy, per (layer, expert), physical order
  std::vector<uint8_t> own_;       // [L*E*G]: GPU holds a copy
};

}  // namespace

std::unique_ptr<Router> make_sglang_static(const Placement& p, uint64_t seed) {
  return std::make_unique<SglangRouter>(p, seed, true);
}
std::unique_ptr<Router> make_sglang_dynamic(const Placement& p, uint64_t seed) {
  return std::make_unique<SglangRouter>(p, seed, false);
}

}  // namespace grace::route
