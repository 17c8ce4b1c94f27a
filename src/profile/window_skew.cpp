// Batch-level skew (see profile.h): the trace is cut into consecutive windows of window_tokens
// tokens (a shorter tail window is dropped unless it is the only one); per layer and window,
// max/mean expert load with mean = (window tokens x top_k) / experts. Median and 90th
// percentile over windows use linear interpolation between order statistics (NumPy default).
#include <algorithm>
#include <cmath>

#include "grace/error.h"
#include "grace/profile.h"

namespace grace {
namespace {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

}  // namespace

WindowSkew window_skew(const Trace& trace, int64_t window_tokens) {
  GRACE_INPUT_CHECK(window_tokens >= 1, "window_skew: window of {} tokens must be >= 1", window_tokens);
  WindowSkew out;
  out.window_tokens = window_tokens;
  const int L = trace.num_layers, K = trace.top_k, E = trace.num_experts;
  const int64_t n = trace.num_tokens();
  out.max_mean_median.assign(size_t(L), 0);
  out.max_mean_p90.assign(size_t(L), 0);
  if (n == 0 || E == 0) return out;
  int64_t windows = n / window_tokens;
  int64_t width = window_tokens;
  if (windows == 0) windows = 1, width = n;
  std::vector<int64_t> cnt(static_cast<size_t>(E));
  std::vector<double> ratios(static_cast<size_t>(windows));
  for (int l = 0; l < L; ++l) {
    for (int64_t w = 0; w < windows; ++w) {
      std::fill(cnt.begin(), cnt.end(), 0);
      for (int64_t t = w * width; t < (w + 1) * width; ++t) {
        const expert_t* ids = trace.topk(t, l);
        for (int a = 0; a < K; ++a) {
          GRACE_INPUT_CHECK(ids[a] < E, "routing: token {}, layer {}: expert id {} >= {} experts",
                            trace.first_token + t, l, ids[a], E);
          ++cnt[ids[a]];
        }
      }
      const double mean = double(width) * K / E;
      ratios[size_t(w)] = double(*std::max_element(cnt.begin(), cnt.end())) / mean;
    }
    out.max_mean_median[size_t(l)] = percentile(ratios, 0.5);
    out.max_mean_p90[size_t(l)] = percentile(ratios, 0.9);
  }
  return out;
}

}  // namespace grace
