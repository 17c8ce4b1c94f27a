// write_trace: a Trace as NumPy files in a directory (layout of trace_io.h). The directory
// is written beside the target and renamed into place (core/staged_dir.h).
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/staged_dir.h"
#include "grace/error.h"
#include "grace/trace_io.h"
#include "trace/npy.h"

namespace grace {
namespace fs = std::filesystem;

namespace {

// A write error names the file inside the staging folder; the user knows only the output.
[[noreturn]] void rethrow_for_output(const InputError& e, const std::string& staging, const std::string& dir) {
  std::string msg = e.what();
  for (size_t at; (at = msg.find(staging)) != std::string::npos;) msg.replace(at, staging.size(), dir);
  throw InputError(msg);
}

}  // namespace

void write_trace(const Trace& trace, const std::string& dir, bool gzip) {
  GRACE_CHECK(trace.num_layers > 0 && trace.top_k > 0, "trace without layers or top_k");
  const int64_t tokens = trace.num_tokens();
  const int64_t per_token = int64_t(trace.num_layers) * trace.top_k;
  GRACE_CHECK(int64_t(trace.ids.size()) == tokens * per_token, "ids size is not tokens x layers x k");
  GRACE_CHECK(trace.weights.empty() || trace.weights.size() == trace.ids.size(), "weights/ids size mismatch");
  std::vector<int64_t> offsets = trace.seq_offsets;
  if (offsets.empty()) offsets = tokens > 0 ? std::vector<int64_t>{0, tokens} : std::vector<int64_t>{0};
  GRACE_CHECK(offsets.front() == 0 && offsets.back() == tokens, "seq_offsets do not span the trace");

  // The folder appears whole (core/staged_dir.h): written beside the target, then renamed.
  StagedDir staged(dir, trace_output_names());
  const fs::path d(staged.path());
  try {
    const std::string gz = gzip ? ".npy.gz" : ".npy";
    const std::vector<int64_t> shape = {tokens, trace.num_layers, trace.top_k};
    write_npy((d / "seq_offsets.npy").string(), NpyDtype::kI8, {int64_t(offsets.size())}, offsets.data(), false);
    if (trace.has_weights()) {
      write_npy((d / ("topk_weights_f32" + gz)).string(), NpyDtype::kF4, shape, trace.weights.data(), gzip);
    }
    expert_t max_id = trace.ids.empty() ? 0 : *std::max_element(trace.ids.begin(), trace.ids.end());
    if (max_id < 256) {
      std::vector<uint8_t> narrow(trace.ids.begin(), trace.ids.end());
      write_npy((d / ("topk_ids" + gz)).string(), NpyDtype::kU1, shape, narrow.data(), gzip);
    } else {
      write_npy((d / ("topk_ids" + gz)).string(), NpyDtype::kU2, shape, trace.ids.data(), gzip);
    }
  } catch (const InputError& e) {
    rethrow_for_output(e, staged.path(), dir);
  }
  staged.commit();
}

int64_t stream_trace(TraceReader& reader, const std::string& dir, bool gzip, int64_t chunk_tokens) {
  const TraceShape shape = reader.shape();
  Trace chunk;
  // Pass 1: every id and weight is checked before anything is written; the widest id picks
  // the dtype.
  reader.rewind();
  int max_id = 0;
  while (reader.next(chunk, chunk_tokens))
    for (expert_t id : chunk.ids) max_id = std::max(max_id, int(id));
  const bool narrow = max_id < 256;

  StagedDir staged(dir, trace_output_names());
  const fs::path d(staged.path());
  try {
    const std::string ext = gzip ? ".npy.gz" : ".npy";
    const std::vector<int64_t> dims = {shape.tokens, shape.num_layers, shape.top_k};
    const std::vector<int64_t>& offsets = reader.seq_offsets();
    write_npy((d / "seq_offsets.npy").string(), NpyDtype::kI8, {int64_t(offsets.size())}, offsets.data(), false);
    std::unique_ptr<NpyWriter> weights;
    if (reader.has_weights())
      weights = std::make_unique<NpyWriter>((d / ("topk_weights_f32" + ext)).string(), NpyDtype::kF4, dims, gzip);
    NpyWriter ids((d / ("topk_ids" + ext)).string(), narrow ? NpyDtype::kU1 : NpyDtype::kU2, dims, gzip);
    std::vector<uint8_t> bytes;
    reader.rewind();
    while (reader.next(chunk, chunk_tokens)) {
      if (narrow) {
        bytes.assign(chunk.ids.begin(), chunk.ids.end());
        ids.write(bytes.data(), int64_t(bytes.size()));
      } else {
        ids.write(chunk.ids.data(), int64_t(chunk.ids.size()));
      }
      if (weights) weights->write(chunk.weights.data(), int64_t(chunk.weights.size()));
    }
    if (weights) weights->commit();
    ids.commit();
  } catch (const InputError& e) {
    rethrow_for_output(e, staged.path(), dir);
  }
  staged.commit();
  return shape.tokens;
}

const std::vector<std::string>& trace_output_names() {
  static const std::vector<std::string> kNames = {"topk_ids.npy",         "topk_ids.npy.gz",
                                                  "seq_offsets.npy",      "seq_offsets.npy.gz",
                                                  "topk_weights_f32.npy", "topk_weights_f32.npy.gz"};
  return kNames;
}

void check_trace_output(const std::string& dir) { check_output_folder(dir, trace_output_names()); }

}  // namespace grace
