// compute_trace_stats and its text/JSON renderings (definitions in grace/trace_stats.h).
#include "grace/trace_stats.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "grace/error.h"

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

}  // namespace

TraceStats compute_trace_stats(const Trace& trace, int64_t window_tokens) {
  GRACE_CHECK(window_tokens > 0, "window_tokens must be positive");
  TraceStats s;
  const int L = trace.num_layers, k = trace.top_k;
  const int64_t T = trace.num_tokens();
  int E = trace.num_experts;
  if (E <= 0)
    for (expert_t id : trace.ids) E = std::max(E, int(id) + 1);
  s.tokens = T;
  s.seqs = trace.num_seqs();
  s.num_layers = L;
  s.num_experts = E;
  s.top_k = k;
  s.window_tokens = window_tokens;
  if (T == 0 || L == 0 || k == 0 || E == 0) return s;
  const size_t EE = size_t(E) * E;

  std::vector<int64_t> load(size_t(L) * E, 0);
  std::vector<int64_t> co(size_t(L) * EE, 0);       // within-layer pairs
  std::vector<int64_t> succ(size_t(L) * EE, 0);     // [l][e][e'] e at l, e' at l+1
  std::vector<int64_t> wload(size_t(L) * E, 0);     // current window
  std::vector<double> window_samples;
  const int64_t num_windows = std::max<int64_t>(1, T / window_tokens);
  const int64_t window_end = T < window_tokens ? T : num_windows * window_tokens;

  // Sequence membership for consecutive-token overlap.
  std::vector<int64_t> offs = trace.seq_offsets;
  if (offs.size() < 2) offs = {0, T};
  size_t seq = 0;
  double overlap_sum = 0;
  int64_t overlap_n = 0;

  for (int64_t t = 0; t < T; ++t) {
    while (seq + 1 < offs.size() && offs[seq + 1] <= t) ++seq;
    const bool has_prev = t > offs[seq];
    for (int l = 0; l < L; ++l) {
      const expert_t* ids = trace.topk(t, l);
      int64_t* ld = load.data() + size_t(l) * E;
      int64_t* cl = co.data() + size_t(l) * EE;
      for (int a = 0; a < k; ++a) {
        ++ld[ids[a]];
        if (t < window_end) ++wload[size_t(l) * E + ids[a]];
        for (int b = a + 1; b < k; ++b) {
          int i = std::min(ids[a], ids[b]), j = std::max(ids[a], ids[b]);
          ++cl[size_t(i) * E + j];
        }
      }
      if (l + 1 < L) {
        const expert_t* nxt = trace.topk(t, l + 1);
        int64_t* sc = succ.data() + size_t(l) * EE;
        for (int a = 0; a < k; ++a)
          for (int b = 0; b < k; ++b) ++sc[size_t(ids[a]) * E + nxt[b]];
      }
      if (has_prev) {
        const expert_t* prev = trace.topk(t - 1, l);
        int shared = 0;
        for (int a = 0; a < k; ++a)
          for (int b = 0; b < k; ++b) shared += ids[a] == prev[b];
        overlap_sum += double(shared) / k;
        ++overlap_n;
      }
    }
    if (t < window_end && ((t + 1) % window_tokens == 0 || t + 1 == window_end)) {
      for (int l = 0; l < L; ++l) window_samples.push_back(max_mean(wload.data() + size_t(l) * E, E));
      std::fill(wload.begin(), wload.end(), 0);
    }
  }

  std::vector<double> mm, gi;
  int64_t hot = 0, pairs = 0;
  std::vector<double> lifts;
  for (int l = 0; l < L; ++l) {
    const int64_t* ld = load.data() + size_t(l) * E;
    mm.push_back(max_mean(ld, E));
    gi.push_back(gini(ld, E));
    const int64_t* cl = co.data() + size_t(l) * EE;
    for (int i = 0; i < E; ++i)
      for (int j = i + 1; j < E; ++j) {
        double expected = double(ld[i]) * double(ld[j]) / double(T);
        hot += double(cl[size_t(i) * E + j]) > 2.0 * expected && expected > 0;
        ++pairs;
      }
    if (l + 1 < L) {
      const int64_t* nl = load.data() + size_t(l + 1) * E;
      const int64_t* sc = succ.data() + size_t(l) * EE;
      for (int e = 0; e < E; ++e) {
        if (ld[e] < kSuccessorMinSupport) continue;
        double best = 0;
        for (int f = 0; f < E; ++f) {
          if (nl[f] < kSuccessorMinSupport) continue;
          double cond = double(sc[size_t(e) * E + f]) / double(ld[e]);
          double marg = double(nl[f]) / double(T);
          best = std::max(best, cond / marg);
        }
        if (best > 0) lifts.push_back(best);
      }
    }
  }
  s.load_max_mean_median = quantile(mm, 0.5);
  s.gini_median = quantile(gi, 0.5);
  s.window_max_mean_median = quantile(window_samples, 0.5);
  s.window_max_mean_p90 = quantile(window_samples, 0.9);
  s.hot_pair_share = pairs > 0 ? double(hot) / double(pairs) : 0;
  s.successor_lift = quantile(lifts, 0.5);
  s.consecutive_overlap = overlap_n > 0 ? overlap_sum / double(overlap_n) : 0;
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
      s.tokens, s.seqs, s.num_layers, s.num_experts, s.top_k, s.load_max_mean_median, s.gini_median,
      s.window_tokens, s.window_max_mean_median, s.window_max_mean_p90, s.hot_pair_share, s.successor_lift,
      s.consecutive_overlap);
}

}  // namespace grace
