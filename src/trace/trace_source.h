// One source of a TraceReader: a NumPy trace (ids, optional sequence offsets and gate weights,
// checked from their headers when opened) or a synthetic:... spec (synthesised in memory).
// Private to src/trace (trace_reader.cpp reads the data; this file opens and validates).
#ifndef GRACE_SRC_TRACE_TRACE_SOURCE_H_
#define GRACE_SRC_TRACE_TRACE_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "grace/trace_io.h"

namespace grace {

struct Source {
  std::string label;  // ids path or synthetic spec, for messages
  TraceFiles files;
  std::shared_ptr<const Trace> mem;  // synthetic traces live in memory
  int64_t tokens = 0;
  int num_layers = 0;
  int top_k = 0;
  int64_t first_token = 0;  // global index of its first token
};

// Opens one trace argument (a path, a folder or a synthetic:... spec) and checks what can be
// checked before reading the data: dtypes, shapes, the sequence offsets (read into offs,
// [sequences + 1]), the weights file's header when with_weights. num_experts > 0: a synthetic
// model may not have more. Throws InputError naming the file and the problem.
Source open_source_arg(const std::string& arg, int num_experts, bool with_weights, std::vector<int64_t>& offs);

}  // namespace grace

#endif  // GRACE_SRC_TRACE_TRACE_SOURCE_H_
