// TraceReader: streams one or more traces (NumPy files or synthetic:... specs, opened and checked
// by trace_source.cpp) in order, or a selection of token ranges of them (select_ranges). Memory:
// the sequence offsets of all traces (O(sequences)) plus the current chunk.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "grace/error.h"
#include "grace/trace_io.h"
#include "trace/npy.h"
#include "trace/trace_source.h"

namespace grace {

struct TraceReader::Impl {
  std::vector<Source> sources;
  int num_experts = 0;
  bool weights = false;                             // chunks carry weights
  TraceShape shape;                                 // of what is read: the whole concatenation or the selection
  std::vector<int64_t> offsets;                     // sequence offsets of what is read, [shape.seqs + 1]
  std::vector<int64_t> source_offsets = {0};        // token offsets of the sources in the concatenation
  int64_t total_tokens = 0;                         // of the whole concatenation
  bool selected = false;                            // select_ranges was called
  std::vector<std::pair<int64_t, int64_t>> ranges;  // selected [begin, end), global tokens

  // Position.
  size_t src = 0;
  int64_t src_token = 0;   // tokens of sources[src] already handed out
  int64_t token = 0;       // global, in the whole concatenation
  int64_t view_token = 0;  // in what is read (== token without a selection)
  size_t range = 0;        // current selected range
  int max_id = -1;
  NpyReader ids, wts;
  std::vector<unsigned char> raw;
  // Duplicate check of a top-k row: seen[id] == row stamp when id is already in the row.
  std::vector<uint32_t> seen = std::vector<uint32_t>(65536, 0);
  uint32_t stamp = 0;

  void check_rows(const Source& s, const expert_t* out, int64_t n);

  void open_source();
  void read_part(Trace& chunk, int64_t n);
  void read_tokens(Trace& chunk, int64_t n);
  void skip(int64_t n);
  void add_source(Source s, const std::vector<int64_t>& offs);
};

// One validation for every command that reads traces: a top-k row names k distinct experts
// (the router picked k different ones; a repeated id is a corrupt or mis-converted trace).
void TraceReader::Impl::check_rows(const Source& s, const expert_t* out, int64_t n) {
  const int k = shape.top_k;
  const int64_t rows = n * shape.num_layers;
  for (int64_t r = 0; r < rows; ++r) {
    if (++stamp == 0) {  // wrapped: start the stamps again
      std::fill(seen.begin(), seen.end(), 0);
      stamp = 1;
    }
    const expert_t* row = out + r * k;
    for (int a = 0; a < k; ++a) {
      if (seen[row[a]] == stamp)
        fail_input("{}: token {}, layer {}: expert {} appears twice in the top-{}", s.label,
                   src_token + r / shape.num_layers, int(r % shape.num_layers), row[a], k);
      seen[row[a]] = stamp;
    }
  }
}

void TraceReader::Impl::open_source() {
  ids.close();
  wts.close();
  if (src >= sources.size() || sources[src].mem) return;
  ids.open(sources[src].files.ids);
  if (weights) wts.open(sources[src].files.weights);
}

// Appends the next n tokens of the current source to chunk.
void TraceReader::Impl::read_part(Trace& chunk, int64_t n) {
  const Source& s = sources[src];
  const int64_t per_token = int64_t(shape.num_layers) * shape.top_k;
  const int64_t count = n * per_token;
  size_t base = chunk.ids.size();
  // File data is read before the chunk grows, so its size is bounded by what the file holds.
  if (!s.mem) ids.read_raw(count, raw);
  chunk.ids.resize(base + size_t(count));
  expert_t* out = chunk.ids.data() + base;
  if (s.mem) {
    std::copy_n(s.mem->ids.data() + src_token * per_token, count, out);
    if (weights)
      chunk.weights.insert(chunk.weights.end(), s.mem->weights.data() + src_token * per_token,
                           s.mem->weights.data() + (src_token + n) * per_token);
  } else {
    const unsigned char* p = raw.data();
    const NpyDtype dt = ids.header().dtype;
    for (int64_t i = 0; i < count; ++i) {
      int64_t v;
      switch (dt) {
        case NpyDtype::kU1:
          v = p[i];
          break;
        case NpyDtype::kU2: {
          uint16_t x;
          std::memcpy(&x, p + 2 * i, 2);
          v = x;
          break;
        }
        case NpyDtype::kI4: {
          int32_t x;
          std::memcpy(&x, p + 4 * i, 4);
          v = x;
          break;
        }
        default:
          std::memcpy(&v, p + 8 * i, 8);
          break;
      }
      if (v < 0 || v > 65535 || (num_experts > 0 && v >= num_experts)) {
        int64_t t = src_token + i / per_token;
        int layer = int((i % per_token) / shape.top_k);
        if (v < 0) fail_input("{}: token {}, layer {}: negative expert id {}", s.label, t, layer, v);
        if (num_experts > 0)
          fail_input("{}: token {}, layer {}: expert id {} >= {} experts", s.label, t, layer, v, num_experts);
        fail_input("{}: token {}, layer {}: expert id {} does not fit 16 bits", s.label, t, layer, v);
      }
      out[i] = expert_t(v);
    }
    if (weights) {
      wts.read_raw(count, raw);
      size_t wbase = chunk.weights.size();
      chunk.weights.resize(wbase + size_t(count));
      float* w = chunk.weights.data() + wbase;
      const unsigned char* q = raw.data();
      switch (wts.header().dtype) {
        case NpyDtype::kU2:
          for (int64_t i = 0; i < count; ++i) {
            uint16_t x;
            std::memcpy(&x, q + 2 * i, 2);
            w[i] = float(x) / 1e4f;
          }
          break;
        case NpyDtype::kF2:
          for (int64_t i = 0; i < count; ++i) {
            uint16_t x;
            std::memcpy(&x, q + 2 * i, 2);
            w[i] = half_to_float(x);
          }
          break;
        default:
          std::memcpy(w, q, size_t(count) * 4);
          break;
      }
      for (int64_t i = 0; i < count; ++i)  // gate weights are probabilities
        if (!(std::isfinite(w[i]) && w[i] >= 0)) {
          fail_input("{}: token {}, layer {}: gate weight {} is not a finite non-negative number",
                     sources[src].files.weights, src_token + i / per_token, int((i % per_token) / shape.top_k), w[i]);
        }
    }
  }
  check_rows(s, out, n);
  if (num_experts == 0)
    for (int64_t i = 0; i < count; ++i) max_id = std::max(max_id, int(out[i]));
  src_token += n;
  token += n;
  if (src_token == s.tokens) {
    ++src;
    src_token = 0;
    open_source();
  }
}

// Appends the next n tokens of the concatenation to chunk, across sources.
void TraceReader::Impl::read_tokens(Trace& chunk, int64_t n) {
  while (n > 0) {
    while (src_token == sources[src].tokens) {  // skip empty sources
      ++src;
      src_token = 0;
      open_source();
    }
    const int64_t part = std::min(n, sources[src].tokens - src_token);
    read_part(chunk, part);
    n -= part;
  }
}

// Reads (and so validates) the next n tokens without handing them out, a bounded piece at a time.
void TraceReader::Impl::skip(int64_t n) {
  Trace scratch;
  scratch.num_layers = shape.num_layers;
  scratch.top_k = shape.top_k;
  while (n > 0) {
    const int64_t part = std::min<int64_t>(n, 65536);
    scratch.ids.clear();
    scratch.weights.clear();
    read_tokens(scratch, part);
    n -= part;
  }
}

void TraceReader::Impl::add_source(Source s, const std::vector<int64_t>& offs) {
  if (sources.empty()) {  // (later sources were checked against the first by the caller)
    shape.num_layers = s.num_layers;
    shape.top_k = s.top_k;
  }
  s.first_token = shape.tokens;
  for (size_t i = 1; i < offs.size(); ++i) offsets.push_back(offs[i] + shape.tokens);
  shape.tokens += s.tokens;
  source_offsets.push_back(shape.tokens);
  sources.push_back(std::move(s));
}

TraceReader::TraceReader(std::shared_ptr<const Trace> trace) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  GRACE_CHECK(trace != nullptr, "no trace");
  m.num_experts = trace->num_experts;
  m.offsets.push_back(0);
  Source s;
  s.label = "trace";
  s.tokens = trace->num_tokens();
  s.num_layers = trace->num_layers;
  s.top_k = trace->top_k;
  GRACE_CHECK(s.num_layers > 0 && s.top_k > 0 && int64_t(trace->ids.size()) == s.tokens * s.num_layers * s.top_k,
              "trace in memory has an inconsistent shape");
  std::vector<int64_t> offs = trace->seq_offsets;
  if (offs.size() < 2) offs = {0, s.tokens};
  m.weights = trace->has_weights();
  s.mem = std::move(trace);
  m.add_source(std::move(s), offs);
  m.shape.seqs = int64_t(m.offsets.size()) - 1;
  m.total_tokens = m.shape.tokens;
  GRACE_INPUT_CHECK(m.shape.tokens > 0, "the trace holds no tokens");
  rewind();
}

TraceReader::TraceReader(const std::vector<std::string>& args, int num_experts, bool with_weights)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  GRACE_INPUT_CHECK(!args.empty(), "no trace given");
  GRACE_INPUT_CHECK(num_experts >= 0 && num_experts <= 65536, "number of experts {} is out of range", num_experts);
  m.num_experts = num_experts;
  m.offsets.push_back(0);
  bool any_weights = false;
  for (const std::string& arg : args) {
    std::vector<int64_t> offs;
    Source s = open_source_arg(arg, num_experts, with_weights, offs);
    if (!m.sources.empty())
      GRACE_INPUT_CHECK(s.num_layers == m.shape.num_layers && s.top_k == m.shape.top_k,
                        "{}: shape [tokens, {}, {}] does not match the first trace's [tokens, {}, {}]", s.label,
                        s.num_layers, s.top_k, m.shape.num_layers, m.shape.top_k);
    bool has_w = s.mem ? with_weights : !s.files.weights.empty();
    if (with_weights && !m.sources.empty())
      GRACE_INPUT_CHECK(has_w == any_weights, "{}: {} gate weights but {} {}", s.label, has_w ? "has" : "has no",
                        m.sources.front().label, has_w ? "has none" : "has");
    any_weights = has_w;
    m.add_source(std::move(s), offs);
  }
  m.shape.seqs = int64_t(m.offsets.size()) - 1;
  m.total_tokens = m.shape.tokens;
  // One rule for every command: a trace with no tokens has nothing to plan, evaluate or count.
  GRACE_INPUT_CHECK(m.shape.tokens > 0, "{}: the trace{} hold{} no tokens", m.sources.front().label,
                    m.sources.size() > 1 ? fmt::format(" (and the {} others given)", m.sources.size() - 1) : "",
                    m.sources.size() > 1 ? "" : "s");
  m.weights = with_weights && any_weights;
  rewind();
}

TraceReader::~TraceReader() = default;

const TraceShape& TraceReader::shape() const { return impl_->shape; }

bool TraceReader::has_weights() const { return impl_->weights; }

const std::vector<int64_t>& TraceReader::seq_offsets() const { return impl_->offsets; }

const std::vector<int64_t>& TraceReader::source_offsets() const { return impl_->source_offsets; }

void TraceReader::select_ranges(const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  Impl& m = *impl_;
  int64_t at = 0, tokens = 0;
  std::vector<int64_t> offsets = {0};
  offsets.reserve(ranges.size() + 1);
  for (const auto& [b, e] : ranges) {
    GRACE_CHECK(b >= at && e > b && e <= m.total_tokens,
                "token range [{}, {}) is not ascending, disjoint and "
                "inside the {} tokens",
                b, e, m.total_tokens);
    at = e;
    tokens += e - b;
    offsets.push_back(tokens);
  }
  m.ranges = ranges;
  m.selected = true;
  m.offsets = std::move(offsets);
  m.shape.tokens = tokens;
  m.shape.seqs = int64_t(ranges.size());
  rewind();
}

void TraceReader::rewind() {
  Impl& m = *impl_;
  m.src = 0;
  m.src_token = 0;
  m.token = 0;
  m.view_token = 0;
  m.range = 0;
  m.max_id = -1;
  while (m.src < m.sources.size() && m.sources[m.src].tokens == 0) ++m.src;
  m.open_source();
}

bool TraceReader::next(Trace& chunk, int64_t max_tokens) {
  GRACE_CHECK(max_tokens > 0, "max_tokens must be positive, got {}", max_tokens);
  Impl& m = *impl_;
  chunk.num_layers = m.shape.num_layers;
  chunk.top_k = m.shape.top_k;
  chunk.ids.clear();
  chunk.weights.clear();
  chunk.seq_offsets.clear();
  if (m.view_token >= m.shape.tokens) {
    if (m.token < m.total_tokens) m.skip(m.total_tokens - m.token);  // validate what follows the selection
    chunk.num_experts = m.num_experts > 0 ? m.num_experts : m.max_id + 1;
    chunk.first_token = m.view_token;
    chunk.first_seq = m.shape.seqs;
    return false;
  }
  const int64_t a = m.view_token;
  const int64_t n = std::min(max_tokens, m.shape.tokens - a);
  // Capped: n comes from file headers; read_part grows the chunk as data actually arrives.
  chunk.ids.reserve(size_t(std::min<int64_t>(n * m.shape.num_layers * m.shape.top_k, int64_t(1) << 24)));
  if (!m.selected) {
    m.read_tokens(chunk, n);
  } else {
    for (int64_t left = n; left > 0;) {
      const auto [b, e] = m.ranges[m.range];
      if (m.token < b) m.skip(b - m.token);
      const int64_t take = std::min(left, e - m.token);
      m.read_tokens(chunk, take);
      left -= take;
      if (m.token == e) ++m.range;
    }
  }
  m.view_token += n;
  // Sequences: the one holding token a, then every boundary strictly inside (a, a + n).
  auto it = std::upper_bound(m.offsets.begin(), m.offsets.end(), a);
  chunk.first_token = a;
  chunk.first_seq = int64_t(it - m.offsets.begin()) - 1;
  chunk.seq_offsets.push_back(0);
  for (; it != m.offsets.end() && *it < a + n; ++it) chunk.seq_offsets.push_back(*it - a);
  chunk.seq_offsets.push_back(n);
  chunk.num_experts = m.num_experts > 0 ? m.num_experts : m.max_id + 1;
  return true;
}

Trace read_trace(const std::vector<std::string>& args, int num_experts, bool with_weights) {
  TraceReader reader(args, num_experts, with_weights);
  Trace all;
  int64_t tokens = reader.shape().tokens;
  if (!reader.next(all, std::max<int64_t>(tokens, 1))) {
    all.seq_offsets = {0};
    all.first_seq = 0;
  }
  return all;
}

}  // namespace grace
