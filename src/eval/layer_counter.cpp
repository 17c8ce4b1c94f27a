// Counting one (batch, layer): see layer_counter.h for the copy rules.
#include "eval/layer_counter.h"

#include <algorithm>
#include <cmath>

#include "grace/error.h"

namespace grace::eval {

LayerCounter::LayerCounter(const RoutingTable& table, CommScheme comm)
    : table_(table), comm_(comm), gpu_mark_(size_t(table.num_gpus()), 0u), node_mark_(size_t(table.num_nodes()), 0u) {
  node_of_gpu_.resize(size_t(table.num_gpus()));
  for (int g = 0; g < table.num_gpus(); ++g) node_of_gpu_[size_t(g)] = g / table.gpus_per_node();
}

void LayerCounter::count(Router& router, const RouteBatch& b, LayerBatchRecord& rec) {
  const int G = table_.num_gpus(), gpn = table_.gpus_per_node(), k = b.top_k;
  const int64_t n = b.num_tokens;
  dest_.resize(size_t(n) * k);
  router.route(b, dest_.data());

  const int32_t* slot_off = table_.gpu_slot_offset(b.layer);
  slot_tokens_.assign(size_t(slot_off[G]), 0);
  rec.layer = b.layer;
  rec.tokens = n;
  rec.gpu_pairs.assign(size_t(G), 0);
  rec.send_intra.assign(size_t(G), 0);
  rec.recv_intra.assign(size_t(G), 0);
  rec.send_inter.assign(size_t(G), 0);
  rec.recv_inter.assign(size_t(G), 0);
  int64_t same_gpu = 0, same_node = 0, remote = 0;
  int64_t* pairs = rec.gpu_pairs.data();
  int64_t* si = rec.send_intra.data();
  int64_t* ri = rec.recv_intra.data();
  int64_t* sx = rec.send_inter.data();
  int64_t* rx = rec.recv_inter.data();
  const int base = b.layer * table_.num_experts();
  const int32_t* slot_of = table_.slot_of().data();
  const bool hier = comm_ == CommScheme::kHierarchical;
  distinct_.resize(size_t(k));
  int* dl = distinct_.data();
  const int* node_of = node_of_gpu_.data();

  for (int64_t t = 0; t < n; ++t) {
    if (++stamp_ == 0) {  // wrapped: clear the marks
      std::fill(gpu_mark_.begin(), gpu_mark_.end(), 0u);
      std::fill(node_mark_.begin(), node_mark_.end(), 0u);
      stamp_ = 1;
    }
    const expert_t* ids = b.ids + t * b.ids_stride;
    const int* d = dest_.data() + t * k;
    const int src = b.src_gpu[t];
    const int src_node = node_of[src], src_lane = src - src_node * gpn;
    int nd = 0;
    for (int j = 0; j < k; ++j) {
      const int g = d[j];
      GRACE_CHECK(g >= 0 && g < G, "router '{}' returned GPU {}", router.name(), g);
      const int s = slot_of[(size_t(base) + ids[j]) * G + g];
      GRACE_CHECK(s >= 0, "router '{}' sent layer {} expert {} to GPU {}, which does not host it", router.name(),
                  b.layer, ids[j], g);
      ++pairs[g];
      ++slot_tokens_[size_t(slot_off[g] + s)];
      // Branch-free counting (which tier, first pair on g): the same sums.
      const int on_node = node_of[g] == src_node;
      same_gpu += g == src;
      same_node += on_node & (g != src);
      remote += !on_node;
      dl[nd] = g;
      nd += gpu_mark_[g] != stamp_;
      gpu_mark_[g] = stamp_;
    }
    if (hier) {
      // Per distinct GPU g != src on node m: a cross-node copy src -> peer (m's GPU of src's
      // lane) the first time m is seen, then an NVLink copy peer -> g unless g is the peer.
      // On src's own node the peer is src itself, so the NVLink copy is src -> g: one rule.
      for (int i = 0; i < nd; ++i) {
        const int g = dl[i];
        if (g == src) continue;
        const int m = node_of[g];
        const int peer = m * gpn + src_lane;
        const int remote_first = (m != src_node) & (node_mark_[m] != stamp_);
        node_mark_[m] = stamp_;
        sx[src] += remote_first;
        rx[peer] += remote_first;
        si[peer] += g != peer;
        ri[g] += g != peer;
      }
      continue;
    }
    // Flat: one copy per distinct GPU g != src, over NVLink on src's node, else cross-node.
    for (int i = 0; i < nd; ++i) {
      const int g = dl[i];
      if (g == src) continue;
      const int m = node_of[g];
      if (m == src_node) {
        ++si[src];
        ++ri[g];
      } else {
        ++sx[src];
        ++rx[g];
      }
    }
  }
  rec.pairs_same_gpu = same_gpu;
  rec.pairs_same_node = same_node;
  rec.pairs_remote = remote;
  rec.nic_busiest = 0;
  for (int g0 = 0; g0 < G; g0 += gpn) {
    int64_t send = 0, recv = 0;
    for (int g = g0; g < g0 + gpn; ++g) send += sx[g], recv += rx[g];
    rec.nic_busiest = std::max(rec.nic_busiest, std::max(send, recv));
  }
  rec.gpu_expert_tokens.resize(size_t(G));
  for (int g = 0; g < G; ++g) {
    auto& v = rec.gpu_expert_tokens[size_t(g)];
    v.assign(slot_tokens_.begin() + slot_off[g], slot_tokens_.begin() + slot_off[g + 1]);
  }
}

void accumulate(EvalTotals& t, const LayerBatchRecord& r) {
  int64_t pairs = 0, mx = 0;
  for (int64_t p : r.gpu_pairs) {
    pairs += p;
    mx = std::max(mx, p);
  }
  for (size_t g = 0; g < r.send_intra.size(); ++g) {
    t.intra_copies += r.send_intra[g];
    t.inter_copies += r.send_inter[g];
  }
  t.nic_busiest_copies += r.nic_busiest;
  t.tokens += r.tokens;
  t.pairs += pairs;
  t.pairs_same_gpu += r.pairs_same_gpu;
  t.pairs_same_node += r.pairs_same_node;
  t.pairs_remote += r.pairs_remote;
  const double G = double(r.gpu_pairs.size());
  if (pairs > 0 && G > 0) {
    const double mean = double(pairs) / G;
    double var = 0;
    for (int64_t p : r.gpu_pairs) var += (double(p) - mean) * (double(p) - mean);
    t.load_max_mean_sum += double(mx) / mean;
    t.load_std_sum += std::sqrt(var / G) / mean;
  }
  ++t.samples;
}

}  // namespace grace::eval
