// write_trace: a Trace as NumPy files in a directory (layout of trace_io.h). Each file is
// written atomically; the ids file, which makes the directory a trace, is written last.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "grace/error.h"
#include "grace/trace_io.h"
#include "trace/npy.h"

namespace grace {
namespace fs = std::filesystem;

void write_trace(const Trace& trace, const std::string& dir, bool gzip) {
  GRACE_CHECK(trace.num_layers > 0 && trace.top_k > 0, "trace without layers or top_k");
  const int64_t tokens = trace.num_tokens();
  const int64_t per_token = int64_t(trace.num_layers) * trace.top_k;
  GRACE_CHECK(int64_t(trace.ids.size()) == tokens * per_token, "ids size is not tokens x layers x k");
  GRACE_CHECK(trace.weights.empty() || trace.weights.size() == trace.ids.size(), "weights/ids size mismatch");
  std::vector<int64_t> offsets = trace.seq_offsets;
  if (offsets.empty()) offsets = tokens > 0 ? std::vector<int64_t>{0, tokens} : std::vector<int64_t>{0};
  GRACE_CHECK(offsets.front() == 0 && offsets.back() == tokens, "seq_offsets do not span the trace");

  std::error_code ec;
  fs::create_directories(dir, ec);
  GRACE_INPUT_CHECK(fs::is_directory(dir), "cannot create output directory '{}': {}", dir, ec.message());
  const fs::path d(dir);
  const std::string gz = gzip ? ".npy.gz" : ".npy";
  const std::string other = gzip ? ".npy" : ".npy.gz";
  // Remove a stale variant of the names we write, so the directory resolves to one trace.
  for (const char* stem : {"topk_ids", "topk_weights_f32", "seq_offsets"}) fs::remove(d / (stem + other), ec);
  fs::remove(d / "seq_offsets.npy.gz", ec);

  const std::vector<int64_t> shape = {tokens, trace.num_layers, trace.top_k};
  write_npy((d / "seq_offsets.npy").string(), NpyDtype::kI8, {int64_t(offsets.size())}, offsets.data(), false);
  if (trace.has_weights()) {
    write_npy((d / ("topk_weights_f32" + gz)).string(), NpyDtype::kF4, shape, trace.weights.data(), gzip);
  } else {
    fs::remove(d / ("topk_weights_f32" + gz), ec);
  }
  expert_t max_id = trace.ids.empty() ? 0 : *std::max_element(trace.ids.begin(), trace.ids.end());
  if (max_id < 256) {
    std::vector<uint8_t> narrow(trace.ids.begin(), trace.ids.end());
    write_npy((d / ("topk_ids" + gz)).string(), NpyDtype::kU1, shape, narrow.data(), gzip);
  } else {
    write_npy((d / ("topk_ids" + gz)).string(), NpyDtype::kU2, shape, trace.ids.data(), gzip);
  }
}

}  // namespace grace
