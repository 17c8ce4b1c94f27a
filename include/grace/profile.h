// Profile: per MoE layer, how often each expert was chosen (load) and how often each pair of
// experts was chosen by the same token (affinity), as defined in ../shared/docs/method.md.
// A profile is a sum over tokens, so it is built chunk by chunk from a streamed trace.
#ifndef GRACE_PROFILE_H_
#define GRACE_PROFILE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "grace/trace.h"

namespace grace {

class TraceReader;

struct LayerProfile {
  int num_experts = 0;
  std::vector<int64_t> load;      // [E]: tokens that chose expert e
  std::vector<int64_t> affinity;  // [E*E], symmetric, zero diagonal: tokens choosing both i, j

  int64_t aff(int i, int j) const { return affinity[size_t(i) * num_experts + j]; }
  int64_t total_load() const;
};

struct Profile {
  int num_layers = 0;
  int num_experts = 0;
  int top_k = 0;
  int64_t tokens = 0;
  std::vector<LayerProfile> layers;

  Profile() = default;
  Profile(int layers, int experts, int top_k);

  // Adds every token of `chunk` (which must have the same layers/top_k; ids < num_experts).
  void add(const Trace& chunk);
  // Adds another profile of the same shape.
  void merge(const Profile& other);
};

// Streams the reader to the end (from its current position) and returns the profile.
Profile build_profile(TraceReader& reader, int num_experts, int64_t chunk_tokens = 65536);
Profile build_profile(const Trace& trace);

// Batch-level skew: the whole-trace max/mean understates what a batch sees.
struct WindowSkew {
  int64_t window_tokens = 0;
  std::vector<double> max_mean_median;  // per layer: median over windows of max/mean load
  std::vector<double> max_mean_p90;     // per layer: 90th percentile
};
WindowSkew window_skew(const Trace& trace, int64_t window_tokens);

}  // namespace grace

#endif  // GRACE_PROFILE_H_
