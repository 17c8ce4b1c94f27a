// Reading and writing routing traces in the NumPy layout of ../shared/data/traces:
//
//   <prefix>topk_ids.npy[.gz]        uint8/uint16/int32/int64 [tokens, layers, k]
//   <prefix>seq_offsets.npy[.gz]     int64 [sequences + 1], monotone, ends at tokens
//   <prefix>topk_weights_x1e4.npy.gz uint16 gate probability x 1e4      (optional)
//   <prefix>topk_probs_f16.npy.gz    float16 gate probability            (optional)
//   <prefix>topk_weights_f32.npy[.gz] float32 gate weight (what write_trace writes; optional)
//
// Any of these may be .npy or .npy.gz (NumPy format v1-v3, little-endian, C order). Sequence
// offsets must start at 0, be strictly increasing (no empty sequences) and end at the token
// count; without an offsets file the whole file is one sequence.
//
// where <prefix> is "" or "<task>_". A trace argument names the ids file, or a directory
// holding exactly one ids file. Several traces concatenate (their shapes must agree).
//
// A trace argument may also be "synthetic:MODEL[:TOKENS[:SEED]]" (see synth.h): the synthetic
// trace is generated in memory and read like a file.
//
// Every problem is an InputError naming the file and what is wrong (bad magic, truncated
// data, dtype or shape that does not fit, ids >= experts, bad offsets). Header problems are
// reported when the reader is constructed; data problems (truncation, bad ids) when the chunk
// holding them is read.
#ifndef GRACE_TRACE_IO_H_
#define GRACE_TRACE_IO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
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

// Streams one or more traces in order with bounded memory: the current chunk plus the sequence
// offsets (O(sequences)). Chunks hold at most max_tokens tokens and exactly max_tokens except
// the last; a chunk may span the end of one trace and the start of the next. Profiles and
// evaluations that are sums over tokens consume them one at a time.
//
// Chunk layout: first_token = global index of the chunk's first token; first_seq = global index
// of the sequence holding it; seq_offsets are chunk-relative: 0, then every sequence start
// strictly inside the chunk, then num_tokens(). A sequence cut by a chunk boundary therefore
// appears as a partial sequence at the end of one chunk and the start of the next (the next
// chunk's first_seq is that sequence). Chunk-local sequence s is global sequence first_seq + s.
//
// with_weights: chunks carry gate weights (as float: x1e4 files divided by 1e4, float16
// widened) when the traces have weight files; if some traces of a concatenation have them and
// others not, that is an InputError. Synthetic traces always have weights.
class TraceReader {
 public:
  // num_experts > 0: ids must be < num_experts (checked while reading). 0: no check, and
  // the chunks report num_experts = max id seen so far + 1.
  TraceReader(const std::vector<std::string>& args, int num_experts, bool with_weights = false);
  // A trace already in memory, read like a file (checked the same way; num_experts from it,
  // weights when it has them).
  explicit TraceReader(std::shared_ptr<const Trace> trace);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // Shape of the concatenation (known after the headers are read, before any data).
  const TraceShape& shape() const;

  // Fills `chunk` with the next <= max_tokens tokens; false at the end.
  bool next(Trace& chunk, int64_t max_tokens);

  // Starts again from the first token.
  void rewind();

  // Chunks carry gate weights; the global sequence offsets ([seqs + 1], 0 first, tokens last).
  bool has_weights() const;
  const std::vector<int64_t>& seq_offsets() const;
  // Where each trace given begins in the whole concatenation: [traces + 1] token offsets, 0
  // first, every token last (select_ranges' coordinates; unchanged by it). A sequence never
  // spans two traces.
  const std::vector<int64_t>& source_offsets() const;

  // Reads only these token ranges [begin, end) of the concatenation (ascending, disjoint,
  // non-empty), each one sequence of a trace made of them: shape(), seq_offsets() and the
  // chunks' first_token / first_seq then count in that trace, as if it had been cut out and
  // written on its own (the plan / evaluation parts of `grace compare`). The tokens between and
  // after the ranges are still read and validated, one chunk at a time, so a bad id anywhere
  // fails every pass. Memory: the ranges (O(sequences)). Rewinds.
  void select_ranges(const std::vector<std::pair<int64_t, int64_t>>& ranges);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads whole traces into memory (concatenated). num_experts as in TraceReader.
Trace read_trace(const std::vector<std::string>& args, int num_experts, bool with_weights = false);

// Writes `trace` as <dir>/topk_ids.npy(.gz if gzip), <dir>/seq_offsets.npy and, when the trace
// has weights, <dir>/topk_weights_f32.npy(.gz). Ids are stored as uint8 when they fit, else
// uint16. The folder appears whole: it is written as a sibling `.<name>.tmp.<pid>` and renamed
// into place, replacing an existing trace folder grace wrote; a folder holding other files is
// refused (InputError). Missing parent folders are created.
void write_trace(const Trace& trace, const std::string& dir, bool gzip = true);

// Streams what `reader` reads into dir, in write_trace's layout and with its guarantees (the
// folder appears whole), reading the input twice: the first pass validates every id and weight
// and finds the largest id (uint8 ids when it fits), the second writes. Memory: one chunk of
// chunk_tokens plus the sequence offsets, independent of the trace's length. Returns the number
// of tokens written.
int64_t stream_trace(TraceReader& reader, const std::string& dir, bool gzip = true, int64_t chunk_tokens = 65536);

// The names write_trace may leave in a folder, and the check of an output folder to run before
// the work (throws InputError naming dir when write_trace would refuse it).
const std::vector<std::string>& trace_output_names();
void check_trace_output(const std::string& dir);

}  // namespace grace

#endif  // GRACE_TRACE_IO_H_
