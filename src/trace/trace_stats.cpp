// compute_trace_stats and its text/JSON renderings (definitions in grace/trace_stats.h).
#include "grace/trace_stats.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cost_limits.h"
#include "grace/error.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q * double(v.size() - 1);
  size_t lo = size_t(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

double max_mean(const int64_t* load, int n) {
  int64_t mx = 0, sum = 0;
  for (int e = 0; e < n; ++e) {
    mx = std::max(mx, load[e]);
    sum += load[e];
  }
  return sum > 0 ? double(mx) * n / double(sum) : 0;
}

double gini(const int64_t* load, int n) {
  std::vector<int64_t> x(load, load + n);
  std::sort(x.begin(), x.end());
  double sum = 0, weighted = 0;
  for (int i = 0; i < n; ++i) {
    sum += double(x[i]);
    weighted += double(i + 1) * double(x[i]);
  }
  if (sum <= 0) return 0;
  return 2.0 * weighted / (n * sum) - double(n + 1) / n;
}

// The sums behind the statistics, fed chunk by chunk (tokens in order). Memory: the pair
// tables, 2 x L x E^2 x 8 bytes (checked against the memory limit first), not the trace.
class StatsSums {
 public:
  StatsSums(int L, int E, int k, int64_t T, int64_t window_tokens)
      : L_(L), E_(E), k_(k), T_(T), window_(window_tokens) {
    check_memory("trace stats", {{"layers", L}, {"experts", E}, {"experts", E}}, 16);
    EE_ = size_t(E) * E;
    load_.assign(size_t(L) * E, 0);
    co_.assign(size_t(L) * EE_, 0);
    succ_.assign(size_t(L) * EE_, 0);
    wload_.assign(size_t(L) * E, 0);
    prev_.assign(size_t(L) * k, 0);
    const int64_t num_windows = std::max<int64_t>(1, T / window_tokens);
    window_end_ = T < window_tokens ? T : num_windows * window_tokens;
  }

  // chunk.seq_offsets are chunk-relative; chunk.first_token / first_seq place it in the trace.
  void add(const Trace& chunk, int64_t first_token, int64_t first_seq) {
    const int64_t n = chunk.num_tokens();
    std::vector<int64_t> offs = chunk.seq_offsets;
    if (offs.size() < 2) offs = {0, n};
    size_t s = 0;
    for (int64_t i = 0; i < n; ++i) {
      while (s + 2 < offs.size() && offs[s + 1] <= i) ++s;
      const int64_t seq = first_seq + int64_t(s);
      const int64_t t = first_token + i;
      const bool has_prev = seq == prev_seq_;
      for (int l = 0; l < L_; ++l) token_layer(chunk.topk(i, l), l, i, chunk, t, has_prev);
      std::copy_n(chunk.topk(i, 0), size_t(L_) * k_, prev_.begin());
      prev_seq_ = seq;
      if (t < window_end_ && ((t + 1) % window_ == 0 || t + 1 == window_end_)) {
        for (int l = 0; l < L_; ++l) window_samples_.push_back(max_mean(wload_.data() + size_t(l) * E_, E_));
        std::fill(wload_.begin(), wload_.end(), 0);
      }
    }
  }

  void finish(TraceStats& s) const {
    std::vector<double> mm, gi;
    int64_t hot = 0, pairs = 0;
    std::vector<double> lifts;
    const int L = L_, E = E_;
    for (int l = 0; l < L; ++l) {
      const int64_t* ld = load_.data() + size_t(l) * E;
      mm.push_back(max_mean(ld, E));
      gi.push_back(gini(ld, E));
      const int64_t* cl = co_.data() + size_t(l) * EE_;
      for (int i = 0; i < E; ++i)
        for (int j = i + 1; j < E; ++j) {
          double expected = double(ld[i]) * double(ld[j]) / double(T_);
          hot += double(cl[size_t(i) * E + j]) > 2.0 * expected && expected > 0;
          ++pairs;
        }
      if (l + 1 < L) {
        const int64_t* nl = load_.data() + size_t(l + 1) * E;
        const int64_t* sc = succ_.data() + size_t(l) * EE_;
        for (int e = 0; e < E; ++e) {
          if (ld[e] < kSuccessorMinSupport) continue;
          double best = 0;
          for (int f = 0; f < E; ++f) {
            if (nl[f] < kSuccessorMinSupport) continue;
            double cond = double(sc[size_t(e) * E + f]) / double(ld[e]);
            double marg = double(nl[f]) / double(T_);
            best = std::max(best, cond / marg);
          }
          if (best > 0) lifts.push_back(best);
        }
      }
    }
    s.load_max_mean_median = quantile(mm, 0.5);
    s.gini_median = quantile(gi, 0.5);
    s.window_max_mean_median = quantile(window_samples_, 0.5);
    s.window_max_mean_p90 = quantile(window_samples_, 0.9);
    s.hot_pair_share = pairs > 0 ? double(hot) / double(pairs) : 0;
    s.successor_lift = quantile(lifts, 0.5);
    s.consecutive_overlap = overlap_n_ > 0 ? overlap_sum_ / double(overlap_n_) : 0;
  }

 private:
  void token_layer(const expert_t* ids, int l, int64_t i, const Trace& chunk, int64_t t, bool has_prev) {
    const int E = E_, k = k_;
    int64_t* ld = load_.data() + size_t(l) * E;
    int64_t* cl = co_.data() + size_t(l) * EE_;
    for (int a = 0; a < k; ++a) {
      GRACE_INPUT_CHECK(ids[a] < E, "trace stats: token {}, layer {}: expert id {} >= {} experts", t, l, ids[a], E);
      ++ld[ids[a]];
      if (t < window_end_) ++wload_[size_t(l) * E + ids[a]];
      for (int b = a + 1; b < k; ++b) {
        int x = std::min(ids[a], ids[b]), y = std::max(ids[a], ids[b]);
        ++cl[size_t(x) * E + y];
      }
    }
    if (l + 1 < L_) {
      const expert_t* nxt = chunk.topk(i, l + 1);
      int64_t* sc = succ_.data() + size_t(l) * EE_;
      for (int a = 0; a < k; ++a)
        for (int b = 0; b < k; ++b) ++sc[size_t(ids[a]) * E + nxt[b]];
    }
    if (has_prev) {
      const expert_t* prev = prev_.data() + size_t(l) * k;
      int shared = 0;
      for (int a = 0; a < k; ++a)
        for (int b = 0; b < k; ++b) shared += ids[a] == prev[b];
      overlap_sum_ += double(shared) / k;
      ++overlap_n_;
    }
  }

  int L_, E_, k_;
  int64_t T_, window_, window_end_ = 0;
  size_t EE_ = 0;
  std::vector<int64_t> load_, co_, succ_, wload_;
  std::vector<expert_t> prev_;  // the previous token's ids, [L][k]
  int64_t prev_seq_ = -1;
  std::vector<double> window_samples_;
  double overlap_sum_ = 0;
  int64_t overlap_n_ = 0;
};

TraceStats header(int64_t T, int64_t seqs, int L, int E, int k, int64_t window_tokens) {
  TraceStats s;
  s.tokens = T;
  s.seqs = seqs;
  s.num_layers = L;
  s.num_experts = E;
  s.top_k = k;
  s.window_tokens = window_tokens;
  return s;
}

}  // namespace

TraceStats compute_trace_stats(const Trace& trace, int64_t window_tokens) {
  GRACE_CHECK(window_tokens > 0, "window_tokens must be positive");
  const int L = trace.num_layers, k = trace.top_k;
  const int64_t T = trace.num_tokens();
  int E = trace.num_experts;
  if (E <= 0)
    for (expert_t id : trace.ids) E = std::max(E, int(id) + 1);
  TraceStats s = header(T, trace.num_seqs(), L, E, k, window_tokens);
  if (T == 0 || L == 0 || k == 0 || E == 0) return s;
  StatsSums sums(L, E, k, T, window_tokens);
  sums.add(trace, 0, 0);
  sums.finish(s);
  return s;
}

TraceStats compute_trace_stats(TraceReader& reader, int64_t window_tokens, int64_t chunk_tokens) {
  GRACE_CHECK(window_tokens > 0 && chunk_tokens > 0, "window_tokens and chunk_tokens must be positive");
  const TraceShape shape = reader.shape();
  Trace chunk;
  // Pass 1: the number of experts (the reader's, or max id + 1), and every id validated.
  reader.rewind();
  while (reader.next(chunk, chunk_tokens)) {
  }
  const int E = chunk.num_experts;
  TraceStats s = header(shape.tokens, shape.seqs, shape.num_layers, E, shape.top_k, window_tokens);
  if (shape.tokens == 0 || E == 0) return s;
  StatsSums sums(shape.num_layers, E, shape.top_k, shape.tokens, window_tokens);
  reader.rewind();
  while (reader.next(chunk, chunk_tokens)) sums.add(chunk, chunk.first_token, chunk.first_seq);
  sums.finish(s);
  return s;
}

std::string format_trace_stats(const TraceStats& s) {
  std::string out;
  out += fmt::format("tokens                      {}\n", s.tokens);
  out += fmt::format("sequences                   {}\n", s.seqs);
  out += fmt::format("layers x experts, top-k     {} x {}, top-{}\n", s.num_layers, s.num_experts, s.top_k);
  out += fmt::format("load max/mean (median)      {:.3f}\n", s.load_max_mean_median);
  out += fmt::format("load Gini (median)          {:.3f}\n", s.gini_median);
  out += fmt::format("window {:>5} max/mean med  {:.3f}\n", s.window_tokens, s.window_max_mean_median);
  out += fmt::format("window {:>5} max/mean p90  {:.3f}\n", s.window_tokens, s.window_max_mean_p90);
  out += fmt::format("hot pair share (>2x)        {:.3f}\n", s.hot_pair_share);
  out += fmt::format("successor lift (median)     {:.3f}\n", s.successor_lift);
  out += fmt::format("consecutive overlap         {:.3f}\n", s.consecutive_overlap);
  return out;
}

std::string trace_stats_json(const TraceStats& s) {
  return fmt::format(
      "{{\"tokens\":{},\"seqs\":{},\"num_layers\":{},\"num_experts\":{},\"top_k\":{},"
      "\"load_max_mean_median\":{:.6f},\"gini_median\":{:.6f},\"window_tokens\":{},"
      "\"window_max_mean_median\":{:.6f},\"window_max_mean_p90\":{:.6f},\"hot_pair_share\":{:.6f},"
      "\"successor_lift\":{:.6f},\"consecutive_overlap\":{:.6f}}}",
      s.tokens, s.seqs, s.num_layers, s.num_experts, s.top_k, s.load_max_mean_median, s.gini_median, s.window_tokens,
      s.window_max_mean_median, s.window_max_mean_p90, s.hot_pair_share, s.successor_lift, s.consecutive_overlap);
}

}  // namespace grace
