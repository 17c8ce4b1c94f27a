// cover: grace's locality-first router for hierarchical communication. A token's experts are
// served on its own node when it hosts them; the experts its node lacks go to as few remote
// nodes as possible (greedy set cover: repeatedly the remote node hosting most of the
// still-unserved experts; ties to the node with the least load so far in this call, then the
// lower id), since hierarchical dispatch sends a token to each remote node once. Every expert
// is then served by its least loaded instance (pairs assigned so far in this route() call)
// among the token's own node and the remote nodes it visits anyway, ties to the token's own
// GPU, then to the earlier instance: riding along on a visit costs no cross-node copy, and an
// own-node GPU other than the token's costs only an intra-node copy, so the GPUs and nodes even
// out (a token's own GPU has no precedence beyond ties: a hot expert's copy on every GPU of a
// node would otherwise take all of that GPU's tokens however loaded it is).
// Two passes: forced choices first (an expert with a single instance; the only own-node
// instance for a token that needs no remote node), so that the load counters hold every pair
// that has no choice before any choice is made, then the others in token order; the nodes of a
// token's forced remote pairs are visited anyway, so the cover starts from them. Counters reset
// at each call; no random draws (seed unused).
#include <algorithm>
#include <vector>

#include "grace/error.h"
#include "route/router_impl.h"

namespace grace::route {
namespace {

// Whether instance GPU x is to be preferred over g for a token on GPU src: less load so far,
// or as much and x is the token's own GPU.
inline bool lighter(const int64_t* load, int x, int g, int src) {
  return load[x] < load[g] || (load[x] == load[g] && x == src);
}

class CoverRouter final : public Router {
 public:
  explicit CoverRouter(std::shared_ptr<const RoutingTable> t) : table_(std::move(t)) {
    // Per (layer, expert), the nodes hosting an instance, as bit words of 64 nodes.
    const RoutingTable& tb = *table_;
    const int N = tb.num_nodes(), gpn = tb.gpus_per_node();
    words_ = (N + 63) / 64;
    node_of_gpu_.resize(size_t(tb.num_gpus()));
    for (int g = 0; g < tb.num_gpus(); ++g) node_of_gpu_[size_t(g)] = g / gpn;
    const size_t le_count = size_t(tb.num_layers()) * tb.num_experts();
    node_mask_.assign(le_count * size_t(words_), 0);
    for (size_t le = 0; le < le_count; ++le)
      for (int i = tb.inst_offset()[le]; i < tb.inst_offset()[le + 1]; ++i) {
        const int m = tb.inst_gpu()[size_t(i)] / gpn;
        node_mask_[le * size_t(words_) + size_t(m / 64)] |= uint64_t(1) << (m % 64);
      }
  }
  std::string_view name() const override { return "cover"; }

  void route(const RouteBatch& b, int* dest) override {
    const RoutingTable& tb = *table_;
    check_batch(tb, b);
    const int k = b.top_k, E = tb.num_experts(), N = tb.num_nodes();
    const int base = b.layer * E;
    load_.assign(size_t(tb.num_gpus()), 0);
    node_load_.assign(size_t(N), 0);
    const int32_t* coff = tb.cand_offset().data() + size_t(b.layer) * N * E;
    const int32_t* cg = tb.cand_gpu().data();
    const int32_t* ioff = tb.inst_offset().data();
    const int32_t* ig = tb.inst_gpu().data();
    int64_t* load = load_.data();
    const int* node_of = node_of_gpu_.data();  // g / gpn without a division
    auto assign = [&](int64_t slot, int g) {
      dest[slot] = g;
      ++load[g];
      ++node_load_[size_t(node_of[g])];
    };
    // Pass 1: pairs with no choice: an expert's only instance, or the only instance on the own
    // node of a token whose node hosts all of its experts (nothing to cover, nothing can ride
    // along).
    bool any_free = false;
    for (int64_t t = 0; t < b.num_tokens; ++t) {
      const expert_t* ids = b.ids + t * b.ids_stride;
      const int node = node_of[b.src_gpu[t]];
      const int32_t* off = coff + size_t(node) * E;
      // Whether the node hosts every expert of the token (node_mask_: the nodes of each expert).
      const uint64_t* node_word = node_mask_.data() + size_t(base) * size_t(words_) + size_t(node / 64);
      bool local = true;
      for (int j = 0; j < k; ++j) local = local && ((node_word[size_t(ids[j]) * size_t(words_)] >> (node % 64)) & 1u);
      for (int j = 0; j < k; ++j) {
        const int e = ids[j];
        dest[t * k + j] = -1;
        if (ioff[base + e + 1] - ioff[base + e] == 1)
          assign(t * k + j, ig[ioff[base + e]]);
        else if (local && off[e + 1] - off[e] == 1)
          assign(t * k + j, cg[off[e]]);
        else
          any_free = true;
      }
    }
    if (!any_free) return;
    // Pass 2: the rest, token by token: cover the experts the node lacks, then serve every
    // other expert on the least loaded instance among the own node and the nodes the token
    // visits anyway (a ride along costs no cross-node copy), ties to the token's own GPU.
    if (words_ == 1) {  // up to 64 nodes: the same steps on one bit word per set
      cover_one_word(b, dest, assign);
      return;
    }
    std::vector<int> missing, open;
    std::vector<int> cover_count(size_t(N), 0);
    std::vector<char> visit(size_t(N), 0);
    for (int64_t t = 0; t < b.num_tokens; ++t) {
      const expert_t* ids = b.ids + t * b.ids_stride;
      const int src = b.src_gpu[t], node = node_of[src];
      missing.clear(), open.clear();
      std::fill(visit.begin(), visit.end(), 0);
      visit[size_t(node)] = 1;
      for (int j = 0; j < k; ++j)  // the nodes of forced pairs are visited anyway
        if (dest[t * k + j] >= 0) visit[size_t(node_of[dest[t * k + j]])] = 1;
      for (int j = 0; j < k; ++j) {
        if (dest[t * k + j] >= 0) continue;
        bool served = false;  // an instance on the own node or on a node visited anyway
        for (int i = ioff[base + ids[j]]; i < ioff[base + ids[j] + 1] && !served; ++i)
          served = visit[size_t(node_of[ig[i]])];
        if (served)
          open.push_back(j);
        else
          missing.push_back(j);
      }
      if (missing.empty() && open.empty()) continue;
      while (!missing.empty()) {
        // Nodes hosting each unserved expert (bit masks: a node with two instances counts once).
        std::fill(cover_count.begin(), cover_count.end(), 0);
        for (int j : missing) {
          const uint64_t* mask = node_mask_.data() + size_t(base + ids[j]) * size_t(words_);
          for (int w = 0; w < words_; ++w)
            for (uint64_t bits = mask[w]; bits; bits &= bits - 1) ++cover_count[size_t(w * 64 + __builtin_ctzll(bits))];
        }
        int best = -1;
        for (int m = 0; m < N; ++m) {
          if (cover_count[size_t(m)] == 0) continue;
          if (best < 0 || cover_count[size_t(m)] > cover_count[size_t(best)] ||
              (cover_count[size_t(m)] == cover_count[size_t(best)] && node_load_[size_t(m)] < node_load_[size_t(best)]))
            best = m;
        }
        GRACE_CHECK(best >= 0, "cover: layer {} expert has no instance", b.layer);
        visit[size_t(best)] = 1;
        size_t keep = 0;
        for (int j : missing) {
          const uint64_t* mask = node_mask_.data() + size_t(base + ids[j]) * size_t(words_);
          const bool here = (mask[best / 64] >> (best % 64)) & 1u;
          if (here)
            open.push_back(j);
          else
            missing[keep++] = j;
        }
        missing.resize(keep);
      }
      for (int j : open) {
        const int le = base + ids[j];
        int g = -1;
        for (int i = ioff[le]; i < ioff[le + 1]; ++i) {
          const int x = ig[i];
          if (!visit[size_t(node_of[x])]) continue;
          if (g < 0 || lighter(load, x, g, src)) g = x;
        }
        assign(t * k + j, g);
      }
    }
  }

 private:
  // Pass 2 of route() for at most 64 nodes (words_ == 1): node sets as bit words, the cover's
  // candidate nodes as the union of the missing experts' masks, visited in increasing id, so
  // every choice (count, then node load, then lower id) is the general loop's.
  template <class Assign>
  void cover_one_word(const RouteBatch& b, int* dest, Assign& assign) {
    const RoutingTable& tb = *table_;
    const int k = b.top_k, E = tb.num_experts();
    const int base = b.layer * E;
    const int32_t* ioff = tb.inst_offset().data();
    const int32_t* ig = tb.inst_gpu().data();
    const int64_t* load = load_.data();
    const int64_t* node_load = node_load_.data();
    const int* node_of = node_of_gpu_.data();
    const uint64_t* mask_of = node_mask_.data() + size_t(base);
    slots_.resize(size_t(2 * k));
    masks_.resize(size_t(k));
    int* missing = slots_.data();  // the token's slots j still to cover, with their node masks
    uint64_t* mask = masks_.data();
    int* open = missing + k;  // slots j to serve on a visited node, in serving order
    for (int64_t t = 0; t < b.num_tokens; ++t) {
      const expert_t* ids = b.ids + t * b.ids_stride;
      const int src = b.src_gpu[t], node = node_of[src];
      int nm = 0, no = 0;
      uint64_t visit = uint64_t(1) << node;
      for (int j = 0; j < k; ++j)  // the nodes of forced pairs are visited anyway
        if (dest[t * k + j] >= 0) visit |= uint64_t(1) << node_of[dest[t * k + j]];
      for (int j = 0; j < k; ++j) {
        if (dest[t * k + j] >= 0) continue;
        const uint64_t nodes = mask_of[ids[j]];
        if (nodes & visit)  // an instance on the own node or on a node visited anyway
          open[no++] = j;
        else
          missing[nm] = j, mask[nm] = nodes, ++nm;
      }
      if (nm == 0 && no == 0) continue;
      while (nm > 0) {
        uint64_t nodes = 0;
        for (int i = 0; i < nm; ++i) nodes |= mask[i];
        int best = -1, best_count = 0;
        for (uint64_t bits = nodes; bits; bits &= bits - 1) {
          const int m = __builtin_ctzll(bits);
          int count = 0;
          for (int i = 0; i < nm; ++i) count += int((mask[i] >> m) & 1u);
          if (best < 0 || count > best_count || (count == best_count && node_load[m] < node_load[best]))
            best = m, best_count = count;
        }
        GRACE_CHECK(best >= 0, "cover: layer {} expert has no instance", b.layer);
        visit |= uint64_t(1) << best;
        int keep = 0;
        for (int i = 0; i < nm; ++i) {  // branch-free split: served by best, still missing
          const int here = int((mask[i] >> best) & 1u);
          const int j = missing[i];
          const uint64_t mk = mask[i];
          open[no] = j;
          no += here;
          missing[keep] = j;
          mask[keep] = mk;
          keep += 1 - here;
        }
        nm = keep;
      }
      for (int o = 0; o < no; ++o) {
        const int j = open[o];
        const int le = base + ids[j];
        int g = ig[ioff[le]];  // a single instance is on a visited node
        for (int i = ioff[le] + 1; i < ioff[le + 1]; ++i) {
          const int x = ig[i];
          if (!((visit >> node_of[x]) & 1u)) continue;
          if (!((visit >> node_of[g]) & 1u) || lighter(load, x, g, src)) g = x;
        }
        assign(t * k + j, g);
      }
    }
  }

  std::shared_ptr<const RoutingTable> table_;
  std::vector<int> slots_;
  std::vector<uint64_t> masks_;
  int words_ = 1;
  std::vector<int> node_of_gpu_;
  std::vector<uint64_t> node_mask_;  // [layer * E + expert][words_]
  std::vector<int64_t> load_, node_load_;
};

}  // namespace

std::unique_ptr<Router> make_cover(std::shared_ptr<const RoutingTable> t) {
  return std::make_unique<CoverRouter>(std::move(t));
}

}  // namespace grace::route
