// Routers on a topology of more than 32 GPUs (2 nodes x 40): the own-GPU tier reads the second
// and third words of the host bitsets (GPUs 32-63, 64-79). Tokens on every GPU, >= 32 included,
// must be served by their own GPU when it hosts the expert, else on their own node when it
// hosts one, and never by a GPU that does not host the expert.
#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

#include "grace/router.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

constexpr int kNodes = 2, kGpn = 40, kG = kNodes * kGpn, kE = kG;

// Expert e on GPUs e (primary), e + 1 and e + 41 (mod 80): every expert has two instances on
// one node and one on the other, and every GPU hosts three experts.
std::vector<std::set<int>> hosts_of() {
  std::vector<std::set<int>> h(kE);
  for (int e = 0; e < kE; ++e) h[size_t(e)] = {e, (e + 1) % kG, (e + 41) % kG};
  return h;
}

Placement wide_placement() {
  std::vector<std::vector<std::pair<int, double>>> layer;
  for (int e = 0; e < kE; ++e) layer.push_back({{e, 1}, {(e + 1) % kG, 1}, {(e + 41) % kG, 1}});
  return testing::hand_placement(kNodes, kGpn, {layer, layer});
}

TEST(WideTopology, OwnGpuAndOwnNodeTiersBeyond32Gpus) {
  const Placement p = wide_placement();
  const Topology topo = testing::hand_topology(kNodes, kGpn);
  const auto hosts = hosts_of();
  // Every token picks every expert once (top-1, one token per (src, expert, repeat)).
  const int reps = 6;
  const int64_t n = int64_t(kG) * kE * reps;
  std::vector<expert_t> ids(static_cast<size_t>(n));
  std::vector<int> src(static_cast<size_t>(n));
  std::vector<int64_t> tok(static_cast<size_t>(n));
  std::iota(tok.begin(), tok.end(), 0);
  for (int64_t t = 0; t < n; ++t) {
    src[size_t(t)] = int(t / (int64_t(kE) * reps));
    ids[size_t(t)] = expert_t((t / reps) % kE);
  }
  for (const char* name : {"tar", "local-first", "load-aware"}) {
    auto r = make_router(name, p, topo, 7);
    for (int layer : {0, 1}) {
      RouteBatch b{layer, n, 1, ids.data(), 1, src.data(), tok.data()};
      std::vector<int> dest(size_t(n), -1);
      r->route(b, dest.data());
      int64_t own = 0, high_own = 0, bad = 0;
      for (int64_t t = 0; t < n; ++t) {
        const int s = src[size_t(t)], e = ids[size_t(t)], d = dest[size_t(t)];
        const auto& h = hosts[size_t(e)];
        bool node_has = false;
        for (int g : h) node_has = node_has || g / kGpn == s / kGpn;
        const bool ok = h.count(d) && (h.count(s) ? d == s : (!node_has || d / kGpn == s / kGpn));
        if (!ok && bad++ < 5)
          ADD_FAILURE() << name << " layer " << layer << ": token on GPU " << s << " for expert " << e
                        << " went to GPU " << d;
        own += d == s;
        high_own += d == s && s >= 32;
      }
      EXPECT_EQ(bad, 0) << name;
      EXPECT_EQ(own, int64_t(kG) * 3 * reps) << name;  // each GPU hosts 3 experts
      EXPECT_EQ(high_own, int64_t(kG - 32) * 3 * reps) << name;
    }
  }
}

}  // namespace
}  // namespace grace
