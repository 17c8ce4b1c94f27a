#include "trace/trace_source.h"

#include "core/output_path.h"
#include "grace/error.h"
#include "grace/synth.h"
#include "trace/npy.h"

namespace grace {
namespace {

void read_offsets(const std::string& path, int64_t tokens, std::vector<int64_t>& out) {
  NpyReader r;
  r.open(path);
  const NpyHeader& h = r.header();
  GRACE_INPUT_CHECK(h.dtype == NpyDtype::kI8, "{}: sequence offsets must be int64 (<i8), not {}", path,
                    npy_descr(h.dtype));
  GRACE_INPUT_CHECK(h.shape.size() == 1 && h.shape[0] >= 1,
                    "{}: sequence offsets must have shape [sequences + 1], not {}", path, h.shape_str());
  r.read_int64(h.shape[0], out);
  check_seq_offsets(out, tokens, path + ": sequence offsets", "the ids file");
}

}  // namespace

void check_seq_offsets(const std::vector<int64_t>& offsets, int64_t tokens, const std::string& what,
                       const std::string& ids) {
  GRACE_INPUT_CHECK(!offsets.empty() && offsets.front() == 0, "{} must start at 0, not {}", what,
                    offsets.empty() ? std::string("empty") : std::to_string(offsets.front()));
  for (size_t i = 1; i < offsets.size(); ++i)
    GRACE_INPUT_CHECK(offsets[i] > offsets[i - 1],
                      "{} are not strictly increasing at index {} ({} after {}; empty sequences are not allowed)", what,
                      i, offsets[i], offsets[i - 1]);
  GRACE_INPUT_CHECK(offsets.back() == tokens, "{} end at {}, but {} has {} tokens", what, offsets.back(), ids, tokens);
}

Source open_source_arg(const std::string& arg, int num_experts, bool with_weights, std::vector<int64_t>& offs) {
  Source s;
  ModelSpec model;
  SynthOptions opt;
  if (parse_synthetic_spec(arg, &model, &opt)) {
    opt.with_weights = with_weights;
    s.label = arg;
    s.mem = std::make_shared<Trace>(synthesize_trace(model, opt));
    s.tokens = s.mem->num_tokens();
    s.num_layers = s.mem->num_layers;
    s.top_k = s.mem->top_k;
    offs = s.mem->seq_offsets;
    if (num_experts > 0)
      GRACE_INPUT_CHECK(model.experts <= num_experts, "{}: model has {} experts, more than the {} expected", arg,
                        model.experts, num_experts);
  } else {
    s.files = resolve_trace(arg);
    s.label = s.files.ids;
    NpyReader r;
    r.open(s.files.ids);
    const NpyHeader& h = r.header();
    GRACE_INPUT_CHECK(
        h.dtype == NpyDtype::kU1 || h.dtype == NpyDtype::kU2 || h.dtype == NpyDtype::kI4 || h.dtype == NpyDtype::kI8,
        "{}: expert ids must be an integer array (|u1 <u2 <i4 <i8), not {}", s.label, npy_descr(h.dtype));
    GRACE_INPUT_CHECK(h.shape.size() == 3 && h.shape[1] > 0 && h.shape[2] > 0,
                      "{}: expert ids must have shape [tokens, layers, k], not {}", s.label, h.shape_str());
    GRACE_INPUT_CHECK(
        h.shape[1] <= 65536 && h.shape[2] <= 65536 && h.shape[0] <= (int64_t(1) << 56) / (h.shape[1] * h.shape[2]),
        "{}: shape {} is implausible", s.label, h.shape_str());
    s.tokens = h.shape[0];
    s.num_layers = int(h.shape[1]);
    s.top_k = int(h.shape[2]);
    if (s.files.offsets.empty())
      offs = {0, s.tokens};
    else
      read_offsets(s.files.offsets, s.tokens, offs);
    if (s.tokens == 0) offs = {0};
    // The gate weights belong to the trace even where they are not read: no output may replace them.
    if (!s.files.weights.empty()) note_input(s.files.weights);
    if (with_weights && !s.files.weights.empty()) {
      NpyReader w;
      w.open(s.files.weights);
      const NpyHeader& wh = w.header();
      GRACE_INPUT_CHECK(wh.dtype == NpyDtype::kU2 || wh.dtype == NpyDtype::kF2 || wh.dtype == NpyDtype::kF4,
                        "{}: gate weights must be <u2 (x1e4), <f2 or <f4, not {}", s.files.weights,
                        npy_descr(wh.dtype));
      GRACE_INPUT_CHECK(wh.shape == h.shape, "{}: weights shape {} differs from the ids shape {}", s.files.weights,
                        wh.shape_str(), h.shape_str());
    }
  }
  return s;
}

}  // namespace grace
