#include "plan/replica_gain.h"

#include <algorithm>

namespace grace::plan {

int add_gain_replicas(const Hypergraph& hg, std::vector<int> free_slots, NodeSets& s) {
  const int E = hg.num_experts, N = s.nodes, k = hg.k, H = hg.num_edges;
  if (N < 2 || H == 0) return 0;
  const std::vector<int>& home = s.primary_node;
  // mc[(h * N + m) * N + src]: pins of edge h with home m that are missing on node src.
  // has[e * N + n]: e has an instance on n (s.copies flattened; kept in step with it).
  std::vector<uint8_t> has(size_t(E) * N);
  for (int e = 0; e < E; ++e)
    for (int n = 0; n < N; ++n) has[size_t(e) * N + n] = s.copies[e][n] != 0;
  std::vector<uint8_t> mc(size_t(H) * N * N, 0);
  for (int h = 0; h < H; ++h) {
    const uint16_t* p = hg.edge(h);
    uint8_t* block = mc.data() + size_t(h) * N * N;
    for (int j = 0; j < k; ++j) {
      const uint8_t* hx = has.data() + size_t(p[j]) * N;
      uint8_t* row = block + size_t(home[p[j]]) * N;
      for (int src = 0; src < N; ++src) row[src] += !hx[src];
    }
  }
  // gain[src * E + e]: edges of e where e is the only missing pin of its home, seen from src.
  // (Edge by edge, all sources at once: one row of N bytes per edge.)
  std::vector<int> gain(size_t(E) * N, 0), acc(static_cast<size_t>(N));
  for (int e = 0; e < E; ++e) {
    std::fill(acc.begin(), acc.end(), 0);
    const uint8_t* hx = has.data() + size_t(e) * N;
    for (int32_t i = hg.inc_offset[e]; i < hg.inc_offset[e + 1]; ++i) {
      const uint8_t* row = mc.data() + (size_t(hg.inc[i]) * N + home[e]) * N;
      for (int src = 0; src < N; ++src) acc[size_t(src)] += int(!hx[src]) & int(row[src] == 1);
    }
    for (int src = 0; src < N; ++src) gain[size_t(src) * E + e] = acc[size_t(src)];
  }
  int added = 0;
  for (;;) {
    int best_e = -1, best_n = -1, best_g = 0;
    for (int n = 0; n < N; ++n) {
      if (free_slots[n] <= 0) continue;
      const int* gn = gain.data() + size_t(n) * E;
      for (int e = 0; e < E; ++e)
        if (gn[e] > best_g && !has[size_t(e) * N + n]) best_g = gn[e], best_e = e, best_n = n;
    }
    if (best_e < 0) break;
    const int e = best_e, n = best_n, m = home[e];
    s.copies[e][n] = 1;
    has[size_t(e) * N + n] = 1;
    --free_slots[n];
    ++added;
    int* gn = gain.data() + size_t(n) * E;
    gn[e] = 0;
    for (int32_t i = hg.inc_offset[e]; i < hg.inc_offset[e + 1]; ++i) {
      const int h = hg.inc[i];
      uint8_t& c = mc[(size_t(h) * N + m) * N + n];
      --c;
      if (c != 1) continue;
      // One pin of home m is still missing on n: copying it now completes this edge's visit to m.
      const uint16_t* p = hg.edge(h);
      for (int j = 0; j < k; ++j)
        if (home[p[j]] == m && !has[size_t(p[j]) * N + n]) ++gn[p[j]];
    }
  }
  return added;
}

}  // namespace grace::plan
