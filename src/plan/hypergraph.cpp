#include "plan/hypergraph.h"

#include <algorithm>

namespace grace::plan {

Hypergraph layer_hypergraph(const Profile& profile, int layer, int max_edges) {
  Hypergraph hg;
  const TokenSample& s = profile.sample;
  hg.num_experts = profile.num_experts;
  hg.k = profile.top_k;
  const int64_t n = s.size();
  hg.num_edges = int(std::min<int64_t>(n, std::max(0, max_edges)));
  hg.scale = hg.num_edges > 0 ? double(profile.tokens) / hg.num_edges : 1.0;
  const int k = hg.k, L = profile.num_layers, E = hg.num_experts;
  hg.pins.resize(size_t(hg.num_edges) * k);
  const bool with_seq = int64_t(s.seq.size()) == n && hg.num_edges > 0;
  int64_t prev_seq = -1;
  for (int h = 0; h < hg.num_edges; ++h) {
    const int64_t src = hg.num_edges == n ? h : int64_t(h) * n / hg.num_edges;
    const int64_t q = with_seq ? s.seq[size_t(src)] : 0;
    if (with_seq && (h == 0 || q != prev_seq)) hg.seq_offsets.push_back(h);
    prev_seq = q;
    const expert_t* row = s.ids.data() + (size_t(src) * L + layer) * k;
    std::copy(row, row + k, hg.pins.begin() + size_t(h) * k);
  }
  if (with_seq) hg.seq_offsets.push_back(hg.num_edges);
  hg.inc_offset.assign(size_t(E) + 1, 0);
  for (uint16_t e : hg.pins) ++hg.inc_offset[size_t(e) + 1];
  for (int e = 0; e < E; ++e) hg.inc_offset[e + 1] += hg.inc_offset[e];
  hg.inc.resize(hg.pins.size());
  std::vector<int32_t> fill(hg.inc_offset.begin(), hg.inc_offset.end() - 1);
  for (int h = 0; h < hg.num_edges; ++h)
    for (int j = 0; j < k; ++j) hg.inc[size_t(fill[hg.pins[size_t(h) * k + j]]++)] = h;
  return hg;
}

int64_t connectivity(const Hypergraph& hg, const std::vector<int>& part_of, int parts) {
  std::vector<int> mark(size_t(parts), -1);
  int64_t total = 0;
  for (int h = 0; h < hg.num_edges; ++h) {
    const uint16_t* p = hg.edge(h);
    for (int j = 0; j < hg.k; ++j) {
      const int q = part_of[p[j]];
      if (mark[q] != h) mark[q] = h, ++total;
    }
  }
  return total;
}

}  // namespace grace::plan
