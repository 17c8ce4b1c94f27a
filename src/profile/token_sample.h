// Private to src/profile: maintenance of Profile::sample (see grace/profile.h).
#ifndef GRACE_PROFILE_TOKEN_SAMPLE_H_
#define GRACE_PROFILE_TOKEN_SAMPLE_H_

#include <cstdint>

#include "grace/profile.h"

namespace grace::profile {

// Offers every token of `chunk` (profile indices first_index, first_index + 1, ...).
void sample_add(TokenSample& s, const Trace& chunk, int64_t first_index, int64_t first_seq);
// Offers the rows of another profile's sample whose tokens follow at `offset`; row = layers x k.
// A sketch of the merged tokens needs the other sample's keys re-made, so the merged sample is
// the bottom-m of the re-keyed union: exact when `other` kept every row it saw.
void sample_merge(TokenSample& s, const TokenSample& other, int64_t offset, int64_t seq_offset, size_t row);

}  // namespace grace::profile

#endif  // GRACE_PROFILE_TOKEN_SAMPLE_H_
