// One MoE layer's routing as a hypergraph: every sampled token is a hyperedge over the k experts
// it chose (Profile::sample). Planners that optimise what a token really costs (the nodes it
// must visit) read this instead of pairwise affinity. Private to src/plan.
//
// Edges keep the sample's token order, so edges [w * B, (w + 1) * B) are one window of B
// consecutive sampled tokens (batch-level load).
#ifndef GRACE_PLAN_HYPERGRAPH_H_
#define GRACE_PLAN_HYPERGRAPH_H_

#include <cstdint>
#include <vector>

#include "grace/profile.h"

namespace grace::plan {

struct Hypergraph {
  int num_experts = 0;
  int k = 0;
  int num_edges = 0;
  double scale = 1;                 // profiled tokens per edge
  std::vector<uint16_t> pins;       // [num_edges * k]
  std::vector<int32_t> seq_offsets;  // edges of one sequence run [seq_offsets[i], seq_offsets[i + 1]);
                                     // empty when the sample records no sequences
  std::vector<int32_t> inc_offset;  // [num_experts + 1]: edges of e are inc[inc_offset[e] ..)
  std::vector<int32_t> inc;

  const uint16_t* edge(int h) const { return pins.data() + size_t(h) * k; }
  int degree(int e) const { return inc_offset[e + 1] - inc_offset[e]; }
};

// Layer `layer` of the profile's sample (empty when the profile has no sample), at most
// max_edges edges: an evenly strided subset of the sample, in order, when it holds more.
Hypergraph layer_hypergraph(const Profile& profile, int layer, int max_edges = 1 << 30);

// Sum over edges of the number of distinct parts its pins touch, given part_of[expert].
int64_t connectivity(const Hypergraph& hg, const std::vector<int>& part_of, int parts);

}  // namespace grace::plan

#endif  // GRACE_PLAN_HYPERGRAPH_H_
