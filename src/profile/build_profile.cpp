// build_profile and stream_profile over a TraceReader: streams chunk by chunk, so memory is
// bounded by two chunks plus the profile (kept apart from profile.cpp so the in-memory path does
// not need trace I/O). The read-ahead is one thread beside the caller's, not a pool: it overlaps
// the reader's serial work (inflate, convert, check) with Profile::add, which has its own.
#include <algorithm>
#include <exception>
#include <thread>

#include "grace/error.h"
#include "grace/profile.h"
#include "grace/profile_stream.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

// Smallest chunk the read-ahead cuts a small trace into (below it the per-chunk work of
// Profile::add, E x E per layer, outweighs the overlap).
constexpr int64_t kMinChunkTokens = 4096;

// One chunk read on a thread of its own; join() returns whether it got tokens, or rethrows
// what the read threw.
class ReadAhead {
 public:
  ReadAhead(TraceReader& reader, Trace& chunk, int64_t tokens)
      : thread_([this, &reader, &chunk, tokens] {
          try {
            more_ = reader.next(chunk, tokens);
          } catch (...) {
            error_ = std::current_exception();
          }
        }) {}
  ~ReadAhead() {
    if (thread_.joinable()) thread_.join();
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;
  bool join() {
    thread_.join();
    if (error_) std::rethrow_exception(error_);
    return more_;
  }

 private:
  bool more_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once the members it writes exist
};

}  // namespace

Profile stream_profile(TraceReader& reader, int num_experts, int64_t max_chunk_tokens, int threads,
                       const std::function<void(const Profile&)>& after_chunk) {
  GRACE_CHECK(max_chunk_tokens > 0, "max_chunk_tokens = {}", max_chunk_tokens);
  // The shape is read here, before the read-ahead thread touches the reader.
  const TraceShape shape = reader.shape();
  const int64_t chunk_tokens =
      std::max<int64_t>(1, std::min(max_chunk_tokens / 2, std::max(kMinChunkTokens, (shape.tokens + 3) / 4)));
  Trace chunks[2];
  bool more;
  Profile prof;
  {
    ReadAhead first(reader, chunks[0], chunk_tokens);
    prof = Profile(shape.num_layers, num_experts, shape.top_k, threads);  // zeroed while the first chunk is read
    more = first.join();
  }
  for (int cur = 0; more; cur = 1 - cur) {
    ReadAhead next(reader, chunks[1 - cur], chunk_tokens);
    prof.add(chunks[cur], threads);  // on a throw, next's destructor joins the read
    more = next.join();
    if (after_chunk) after_chunk(prof);
  }
  return prof;
}

Profile build_profile(TraceReader& reader, int num_experts, int64_t chunk_tokens, int threads) {
  return stream_profile(reader, num_experts, chunk_tokens, threads);
}

}  // namespace grace
