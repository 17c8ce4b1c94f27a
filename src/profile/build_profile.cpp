// build_profile over a TraceReader: streams chunk by chunk, so memory is bounded by one chunk
// plus the profile (kept apart from profile.cpp so the in-memory path does not need trace I/O).
#include "grace/error.h"
#include "grace/profile.h"
#include "grace/trace_io.h"

namespace grace {

Profile build_profile(TraceReader& reader, int num_experts, int64_t chunk_tokens, int threads) {
  GRACE_CHECK(chunk_tokens > 0, "chunk_tokens = {}", chunk_tokens);
  const TraceShape& shape = reader.shape();
  Profile prof(shape.num_layers, num_experts, shape.top_k, threads);
  Trace chunk;
  while (reader.next(chunk, chunk_tokens)) prof.add(chunk, threads);
  return prof;
}

}  // namespace grace
