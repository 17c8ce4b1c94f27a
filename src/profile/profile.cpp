// Profile: per-layer expert load and pairwise affinity, summed over tokens (see profile.h).
//
// NOTES: the hot loop counts ordered pairs (slot a < slot b) into a per-chunk uint32 scratch
// matrix without sorting the top-k ids, then folds scratch[i][j] + scratch[j][i] into the
// symmetric affinity. A duplicate id inside one token's top-k lands on the scratch diagonal,
// so the fast path only checks the diagonal and rescans to name the offending token.
#include "grace/profile.h"

#include <algorithm>
#include <cstring>

#include "core/task_queue.h"
#include "grace/error.h"
#include "profile/token_sample.h"

namespace grace {
namespace {

// Tokens per scratch pass: keeps uint32 counters far from overflow.
constexpr int64_t kMaxPassTokens = int64_t(1) << 30;

// Elementary steps (counter increments, zeroed bytes) worth a thread: about a millisecond.
constexpr int64_t kWorkPerThread = int64_t(1) << 20;

[[noreturn]] void report_bad_token(const Trace& chunk, int layer, int64_t t0, int64_t t1, int num_experts) {
  for (int64_t t = t0; t < t1; ++t) {
    const expert_t* ids = chunk.topk(t, layer);
    for (int a = 0; a < chunk.top_k; ++a) {
      GRACE_INPUT_CHECK(ids[a] < num_experts, "routing: token {}, layer {}: expert id {} >= {} experts",
                        chunk.first_token + t, layer, ids[a], num_experts);
      for (int b = 0; b < a; ++b)
        GRACE_INPUT_CHECK(ids[a] != ids[b], "routing: token {}, layer {}: expert {} appears twice in the top-{}",
                          chunk.first_token + t, layer, ids[a], chunk.top_k);
    }
  }
  GRACE_CHECK(false, "bad token not found in layer {} tokens [{}, {})", layer, t0, t1);
}

}  // namespace

int64_t LayerProfile::total_load() const {
  int64_t s = 0;
  for (int64_t v : load) s += v;
  return s;
}

Profile::Profile(int layers, int experts, int k, int threads) : num_layers(layers), num_experts(experts), top_k(k) {
  GRACE_INPUT_CHECK(layers >= 1 && experts >= 1 && k >= 1 && k <= experts,
                    "profile: bad shape {} layers x {} experts, top-{}", layers, experts, k);
  this->layers.resize(size_t(layers));
  // Zeroing the affinity matrices is the first touch of their pages: spread it over threads.
  const int64_t cells = int64_t(experts) * experts;
  for_each_task(layers, pool_threads(threads, int64_t(layers) * cells / 8 / kWorkPerThread), [&](int l, int) {
    LayerProfile& lp = this->layers[size_t(l)];
    lp.num_experts = experts;
    lp.load.assign(size_t(experts), 0);
    lp.affinity.assign(size_t(cells), 0);
  });
}

void Profile::add(const Trace& chunk, int threads) {
  const int64_t n = chunk.num_tokens();
  if (n == 0) return;
  GRACE_INPUT_CHECK(chunk.num_layers == num_layers && chunk.top_k == top_k,
                    "routing: trace has {} layers, top-{} but the profile expects {} layers, top-{}", chunk.num_layers,
                    chunk.top_k, num_layers, top_k);
  const int E = num_experts, K = top_k;
  const int64_t stride = int64_t(num_layers) * K;
  // Sequences: a chunk at the start of a trace begins new ones; a later chunk of the same trace
  // continues its numbering (chunk.first_seq is the trace's own index).
  if (chunk.first_token == 0) seq_base_ = sequences;
  const int64_t first_seq = seq_base_ + chunk.first_seq;

  // Task 0 offers the chunk to the token sample; task 1 + l counts layer l. Each writes only its
  // own data, so the result does not depend on the thread count; a bad id throws from its layer
  // (the lowest such layer's error is the one reported, as in a serial pass).
  const int64_t work = n * stride * K / 2 + int64_t(num_layers) * E * E;
  const int workers = std::min(1 + num_layers, pool_threads(threads, work / kWorkPerThread));
  std::vector<std::vector<uint32_t>> scratches(static_cast<size_t>(workers));
  for_each_task(1 + num_layers, workers, [&](int task, int worker) {
    if (task == 0) {
      profile::sample_add(sample, chunk, tokens, first_seq);
      return;
    }
    const int l = task - 1;
    LayerProfile& lp = layers[size_t(l)];
    std::vector<uint32_t>& scratch = scratches[size_t(worker)];
    scratch.resize(size_t(E) * E);
    std::vector<uint32_t> cnt(static_cast<size_t>(E));
    for (int64_t t0 = 0; t0 < n; t0 += kMaxPassTokens) {
      const int64_t t1 = std::min(n, t0 + kMaxPassTokens);
      std::fill(scratch.begin(), scratch.end(), 0u);
      std::fill(cnt.begin(), cnt.end(), 0u);
      const expert_t* p = chunk.ids.data() + t0 * stride + int64_t(l) * K;
      bool out_of_range = false;
      for (int64_t t = t0; t < t1; ++t, p += stride) {
        for (int a = 0; a < K; ++a) {
          const unsigned i = p[a];
          out_of_range |= i >= unsigned(E);
          if (out_of_range) break;
          ++cnt[i];
          uint32_t* row = scratch.data() + size_t(i) * E;
          for (int b = a + 1; b < K; ++b) {
            const unsigned j = p[b];
            if (j < unsigned(E)) ++row[j];
          }
        }
        if (out_of_range) break;
      }
      bool dup = false;
      for (int e = 0; e < E && !dup; ++e) dup = scratch[size_t(e) * E + e] != 0;
      if (out_of_range || dup) report_bad_token(chunk, l, t0, t1, E);
      for (int e = 0; e < E; ++e) lp.load[size_t(e)] += cnt[size_t(e)];
      for (int i = 0; i < E; ++i)
        for (int j = i + 1; j < E; ++j) {
          const int64_t v = int64_t(scratch[size_t(i) * E + j]) + scratch[size_t(j) * E + i];
          lp.affinity[size_t(i) * E + j] += v;
          lp.affinity[size_t(j) * E + i] += v;
        }
    }
  });
  sequences = std::max(sequences, first_seq + std::max<int64_t>(1, chunk.num_seqs()));
  tokens += n;
}

void Profile::merge(const Profile& other) {
  GRACE_INPUT_CHECK(other.num_layers == num_layers && other.num_experts == num_experts && other.top_k == top_k,
                    "profile: cannot merge a {}x{} top-{} profile into a {}x{} top-{} one", other.num_layers,
                    other.num_experts, other.top_k, num_layers, num_experts, top_k);
  for (int l = 0; l < num_layers; ++l) {
    auto& dst = layers[size_t(l)];
    const auto& src = other.layers[size_t(l)];
    for (size_t e = 0; e < dst.load.size(); ++e) dst.load[e] += src.load[e];
    for (size_t i = 0; i < dst.affinity.size(); ++i) dst.affinity[i] += src.affinity[i];
  }
  profile::sample_merge(sample, other.sample, tokens, sequences, size_t(num_layers) * top_k);
  tokens += other.tokens;
  sequences += other.sequences;
}

double Profile::sample_scale() const { return sample.size() > 0 ? double(tokens) / double(sample.size()) : 1.0; }

Profile build_profile(const Trace& trace, int threads) {
  Profile prof(trace.num_layers, trace.num_experts, trace.top_k, threads);
  prof.add(trace, threads);
  return prof;
}

}  // namespace grace
