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

// A uniform sample of the profiled tokens' whole routing rows (every layer's top-k set), for
// planners that need a token's full expert set (a hyperedge), not only its pairs. Bottom-m
// sketch: the `capacity` tokens with the smallest hash of their index in the profile (the
// order in which tokens were added), so the sample does not depend on chunking and merges
// exactly. Rows are kept in token order, so consecutive rows stand in for a batch window.
struct TokenSample {
  static constexpr int64_t kDefaultCapacity = 16384;
  int64_t capacity = kDefaultCapacity;
  std::vector<int64_t> token;  // [n] ascending profile token index
  std::vector<uint64_t> hash;  // [n] the sketch key of each row
  std::vector<int64_t> seq;    // [n] the row's sequence: index among the profile's sequences
  std::vector<expert_t> ids;   // [n][layers][k]
  int64_t size() const { return int64_t(token.size()); }
};

struct Profile {
  int num_layers = 0;
  int num_experts = 0;
  int top_k = 0;
  int64_t tokens = 0;
  int64_t sequences = 0;  // sequences begun so far (a chunk may continue the last one)
  std::vector<LayerProfile> layers;
  TokenSample sample;

  Profile() = default;
  // Zeroes the affinity matrices on up to `threads` threads (0: the cores, up to 16, when the
  // matrices are big enough to pay for them).
  Profile(int layers, int experts, int top_k, int threads = 0);

  // Adds every token of `chunk` (which must have the same layers/top_k; ids < num_experts).
  // The layers are counted on `threads` threads (0: the cores, up to 16, when the chunk is big
  // enough to pay for them); the profile is the same for any thread count.
  void add(const Trace& chunk, int threads = 0);
  // Adds another profile of the same shape (its tokens count after this profile's).
  void merge(const Profile& other);
  // Scale from sample rows to profiled tokens (tokens / sample.size(); 1 when empty).
  double sample_scale() const;

 private:
  int64_t seq_base_ = 0;  // profile index of the current trace's sequence 0
};

// Streams the reader to the end (from its current position) and returns the profile: stream_profile
// (grace/profile_stream.h) without progress, chunk_tokens its bound (two chunks of at most half
// of it are held). `threads` as Profile::add's.
Profile build_profile(TraceReader& reader, int num_experts, int64_t chunk_tokens = 65536, int threads = 0);
Profile build_profile(const Trace& trace, int threads = 0);

// Batch-level skew: the whole-trace max/mean understates what a batch sees.
struct WindowSkew {
  int64_t window_tokens = 0;
  std::vector<double> max_mean_median;  // per layer: median over windows of max/mean load
  std::vector<double> max_mean_p90;     // per layer: 90th percentile
};
WindowSkew window_skew(const Trace& trace, int64_t window_tokens);

}  // namespace grace

#endif  // GRACE_PROFILE_H_
