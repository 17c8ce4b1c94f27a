// Streaming a trace into a Profile with read-ahead: the next chunk is read (inflated, converted
// and checked) on a thread of its own while the current one is counted, so reading and counting
// overlap. build_profile(TraceReader&, ...) in profile.h is this without the callback.
#ifndef GRACE_PROFILE_STREAM_H_
#define GRACE_PROFILE_STREAM_H_

#include <cstdint>
#include <functional>

#include "grace/profile.h"

namespace grace {

class TraceReader;

// Reads `reader` to the end (from its current position) in chunks of at most max_chunk_tokens /
// 2 tokens (two chunks are held at a time; a small trace is cut into about four, so that there
// is something to overlap) and returns the profile, the same as reading it whole. `threads` as
// Profile::add's. after_chunk, when set, is called with the profile after each chunk (progress).
// Errors come in stream order: a chunk's counting error before the next chunk's read error.
Profile stream_profile(TraceReader& reader, int num_experts, int64_t max_chunk_tokens, int threads,
                       const std::function<void(const Profile&)>& after_chunk = {});

}  // namespace grace

#endif  // GRACE_PROFILE_STREAM_H_
