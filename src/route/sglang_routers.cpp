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
    std::vector<int32_t> offset(size_t(L_) * E_ + 1, 0);
    std::vector<uint8_t> own(size_t(L_) * E_ * G_, 0);
    std::vector<std::vector<int32_t>> lists(size_t(L_) * E_);
    for (int l = 0; l < L_; ++l)
      for (int q = 0; q < lay.num_physical(); ++q) {
        const int e = lay.row(l)[q], g = lay.gpu_of(q);
        if (e < 0) continue;  // a slot no distinct expert could fill (more slots than experts)
        lists[size_t(l) * E_ + e].push_back(g);
        own[(size_t(l) * E_ + e) * G_ + g] = 1;
      }
    for (size_t i = 0; i < lists.size(); ++i) {
      offset[i + 1] = offset[i] + int32_t(lists[i].size());
      copy_gpu_.insert(copy_gpu_.end(), lists[i].begin(), lists[i].end());
    }
    list_len_.assign(copy_gpu_.size(), 0);
    const int rows = static_ ? G_ : 1;
    settled_.assign(size_t(L_) * rows * E_, 0);
    for (int l = 0; l < L_; ++l)
      for (int e = 0; e < E_; ++e) {
        const size_t le = size_t(l) * E_ + e;
        const int o = offset[le], c = offset[le + 1] - o;
        GRACE_CHECK(c > 0, "{}: layer {}, expert {} has no physical copy", name(), l, e);
        list_len_[size_t(o)] = c;
        for (int g = 0; g < rows; ++g)
          settled_[(size_t(l) * rows + g) * E_ + e] = static_ && own[le * G_ + g] ? g
                                                      : c == 1                    ? copy_gpu_[size_t(o)]
                                                                                  : -1 - o;
      }
  }

  std::string_view name() const override { return static_ ? "sglang-static" : "sglang-dynamic"; }

  // Two passes, as the table routers (table_routers.cpp): pass 1 settles every pair without a
  // draw from settled_ and appends the others; pass 2 draws among their copies.
  void route(const RouteBatch& b, int* dest) override {
    GRACE_CHECK(b.layer >= 0 && b.layer < L_, "route: layer {} out of range [0, {})", b.layer, L_);
    if (b.num_tokens == 0) return;
    GRACE_CHECK(b.top_k > 0 && b.top_k < 65536 && b.ids && b.src_gpu && b.ids_stride >= b.top_k,
                "route: bad batch description");
    const int k = b.top_k;
    const int64_t n = b.num_tokens, stride = b.ids_stride;
    const int32_t* set = settled_.data() + size_t(b.layer) * (static_ ? G_ : 1) * E_;
    slow_.resize(size_t(n) * k);
    uint64_t* sl = slow_.data();
    size_t ns = 0;
    for (int64_t t = 0; t < n; ++t) {
      const expert_t* ids = b.ids + t * stride;
      const int32_t* row = static_ ? set + size_t(b.src_gpu[t]) * E_ : set;
      int* out = dest + t * k;
      const uint64_t key = uint64_t(t) << 16;
      for (int j = 0; j < k; ++j) {
        const int d = row[ids[j]];
        out[j] = d;
        sl[ns] = key | uint64_t(j);
        ns += d < 0;
      }
    }
    const uint32_t layer = uint32_t(b.layer);
    for (size_t i = 0; i < ns; ++i) {
      const int64_t t = int64_t(sl[i] >> 16);
      const int j = int(sl[i] & 0xffff);
      int* d = dest + t * k + j;
      const int o = -1 - *d, c = list_len_[size_t(o)];
      const uint64_t tok = b.token_index ? uint64_t(b.token_index[t]) : uint64_t(t);
      *d = copy_gpu_[size_t(o + pick_uniform(pick_hash(seed_, layer, tok, uint32_t(b.ids[t * stride + j])), c))];
    }
  }

 private:
  uint64_t seed_;
  bool static_;
  int L_ = 0, E_ = 0, G_ = 0;
  std::vector<int32_t> copy_gpu_;  // GPU of each physical copy, per (layer, expert), physical order
  std::vector<int32_t> list_len_;  // at the first copy of each (layer, expert): its number of copies
  // static: [L][G][E], dynamic: [L][E]: the GPU serving the pair without a draw (static: own GPU
  // if it holds a copy; either: the only copy), else -1 - (offset of its copies in copy_gpu_).
  std::vector<int32_t> settled_;
  std::vector<uint64_t> slow_;  // pass-2 pairs (reused between calls)
};

}  // namespace

std::unique_ptr<Router> make_sglang_static(const Placement& p, uint64_t seed) {
  return std::make_unique<SglangRouter>(p, seed, true);
}
std::unique_ptr<Router> make_sglang_dynamic(const Placement& p, uint64_t seed) {
  return std::make_unique<SglangRouter>(p, seed, false);
}

}  // namespace grace::route
