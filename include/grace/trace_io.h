// Reading and writing routing traces in the NumPy layout of ../shared/data/traces:
//
//   <prefix>topk_ids.npy[.gz]        uint8/uint16/int32/int64 [tokens, layers, k]
//   <prefix>seq_offsets.npy[.gz]     int64 [sequences + 1], monotone, ends at tokens
//   <prefix>topk_weights_x1e4.npy.gz uint16 gate probability x 1e4      (optional)
//   <prefix>topk_probs_f16.npy.gz    float16 gate probability            (optional)
//
// where <prefix> is "" or "<task>_". A trace argument names the ids file, or a directory
// holding exactly one ids file. Several traces concatenate (their shapes must agree).
//
// Every problem is an InputError naming the file and what is wrong (bad magic, truncated
// data, dtype or shape that does not fit, ids >= experts, bad offsets).
#ifndef GRACE_TRACE_IO_H_
#define GRACE_TRACE_IO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "grace/trace.h"

namespace grace {

// The files of one trace, found from the ids file by the naming convention above.
struct TraceFiles {
  std::string ids;
  std::string offsets;  // empty: the whole file is one sequence
  std::string weights;  // empty: no weights
};

// Resolves a trace argument (ids file or directory). Throws InputError if nothing fits.
TraceFiles resolve_trace(const std::string& arg);

struct TraceShape {
  int64_t tokens = 0;
  int64_t seqs = 0;
  int num_layers = 0;
  int top_k = 0;
};

// Streams one or more traces in order with bounded memory. Chunks hold at most max_tokens
// tokens; profiles and evaluations that are sums over tokens consume them one at a time.
class TraceReader {
 public:
  // num_experts > 0: ids must be < num_experts (checked while reading). 0: no check, and
  // the chunks report num_experts = max id seen so far + 1.
  TraceReader(const std::vector<std::string>& args, int num_experts, bool with_weights = false);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // Shape of the concatenation (known after the headers are read, before any data).
  const TraceShape& shape() const;

  // Fills `chunk` with the next <= max_tokens tokens; false at the end.
  bool next(Trace& chunk, int64_t max_tokens);

  // Starts again from the first token.
  void rewind();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads whole traces into memory (concatenated). num_experts as in TraceReader.
Trace read_trace(const std::vector<std::string>& args, int num_experts, bool with_weights = false);

// Writes `trace` as <dir>/topk_ids.npy(.gz if gzip), <dir>/seq_offsets.npy and, when the trace
// has weights, <dir>/topk_weights_f32.npy(.gz). Ids are stored as uint8 when they fit, else
// uint16. Files appear atomically (temp file + rename). Creates dir if needed.
void write_trace(const Trace& trace, const std::string& dir, bool gzip = true);

}  // namespace grace

#endif  // GRACE_TRACE_IO_H_
