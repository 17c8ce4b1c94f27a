// Private to src/profile: maintenance of Profile::sample (see grace/profile.h).
#ifndef GRACE_PROFILE_TOKEN_SAMPLE_H_
#define GRACE_PROFILE_TOKEN_SAMPLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "grace/profile.h"

namespace grace::profile {

// Offers every token of `chunk` (profile indices first_index, first_index + 1, ...).
void sample_add(TokenSample& s, const Trace& chunk, int64_t first_index, int64_t first_seq);

// sample_add in two steps, so that the rows can be copied on threads: sample_plan picks the rows
// (the sample after the offer, with token, hash and seq, and ids sized) and where each row's ids
// are (in the old sample or in the chunk, which must outlive the copies); sample_copy copies
// rows [begin, end). `next` then replaces the old sample. REQUIRES: s.capacity > 0.
struct SampleUpdate {
  TokenSample next;
  std::vector<const expert_t*> src;  // [next.size()] the row's ids, layers x k of them
  size_t row = 0;                    // layers x k
};
SampleUpdate sample_plan(const TokenSample& s, const Trace& chunk, int64_t first_index, int64_t first_seq);
void sample_copy(SampleUpdate& u, size_t begin, size_t end);
// Offers the rows of another profile's sample whose tokens follow at `offset`; row = layers x k.
// A sketch of the merged tokens needs the other sample's keys re-made, so the merged sample is
// the bottom-m of the re-keyed union: exact when `other` kept every row it saw.
void sample_merge(TokenSample& s, const TokenSample& other, int64_t offset, int64_t seq_offset, size_t row);

}  // namespace grace::profile

#endif  // GRACE_PROFILE_TOKEN_SAMPLE_H_
