// The trace-replay evaluator (grace/evaluate.h): batching in sequence order, pinning each
// sequence to the source GPU with the fewest tokens so far (ties: lowest id), then per
// (batch, layer) routing and counting (layer_counter.h). The in-memory and the streaming
// entry points share one Replay object and give identical results for the same tokens.
#include "grace/evaluate.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <string>

#include "eval/layer_counter.h"
#include "eval/step_batcher.h"
#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/router.h"
#include "grace/serving.h"
#include "grace/token_pinning.h"
#include "grace/topology.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

// The placement the router routes over: the served layout for the SGLang routers (their
// traffic goes to the copies filling the spare slots too), else the placement itself.
std::optional<Placement> served_if_needed(const Placement& p, const std::string& router) {
  if (!router_routes_served_layout(router)) return std::nullopt;
  return served_placement(p);
}

class Replay {
 public:
  Replay(const Placement& p, const Topology& topo, const ModelSpec& model, const EvalOptions& opt)
      : opt_(opt),
        served_(served_if_needed(p, opt.router)),
        table_(served_ ? *served_ : p, topo),
        counter_(table_, opt.comm),
        pinning_(table_.num_gpus()) {
    GRACE_INPUT_CHECK(opt.batch_tokens > 0, "--batch-tokens must be positive (got {})", opt.batch_tokens);
    router_ = make_router(opt.router, served_ ? *served_ : p, topo, opt.seed);
    res_.router = opt.router;
    res_.comm = opt.comm;
    res_.batch_tokens = opt.batch_tokens;
    res_.batching = opt.batching;
    res_.token_bytes = model.token_bytes();
    res_.num_layers = p.num_layers;
    res_.num_gpus = table_.num_gpus();
    res_.num_nodes = table_.num_nodes();
    res_.per_layer.assign(size_t(p.num_layers), EvalTotals{});
  }

  // Checks a chunk's shape against the placement.
  void check_chunk(const Trace& c) const {
    GRACE_INPUT_CHECK(c.num_layers == table_.num_layers(), "trace has {} MoE layers but the placement has {}",
                      c.num_layers, table_.num_layers());
    GRACE_INPUT_CHECK(c.top_k > 0, "trace has top_k {}", c.top_k);
    GRACE_INPUT_CHECK(c.num_experts <= table_.num_experts(), "trace has {} experts but the placement places {}",
                      c.num_experts, table_.num_experts());
    expert_t mx = 0;
    for (expert_t e : c.ids) mx = std::max(mx, e);
    GRACE_INPUT_CHECK(c.ids.empty() || int(mx) < table_.num_experts(),
                      "trace has expert id {} but the placement places {} experts", int(mx), table_.num_experts());
  }

  // Source GPU of each token of chunk c (chunk order), advancing the pinning state.
  void pin(const Trace& c, std::vector<int>& src) {
    src.resize(size_t(c.num_tokens()));
    pinning_.assign(c, 0, c.num_tokens(), src.data());
  }

  // One batch: n tokens at ids (stride layers*top_k), their source GPUs and global indices.
  void batch(const expert_t* ids, int top_k, int64_t n, const int* src, const int64_t* tok) {
    if (n == 0) return;
    const int L = table_.num_layers();
    LayerBatchRecord scratch;
    for (int l = 0; l < L; ++l) {
      RouteBatch rb;
      rb.layer = l;
      rb.num_tokens = n;
      rb.top_k = top_k;
      rb.ids = ids + size_t(l) * top_k;
      rb.ids_stride = int64_t(L) * top_k;
      rb.src_gpu = src;
      rb.token_index = tok;
      LayerBatchRecord& rec = opt_.keep_records ? res_.records.emplace_back() : scratch;
      counter_.count(*router_, rb, rec);
      rec.batch = res_.num_batches;
      eval::accumulate(res_.per_layer[size_t(l)], rec);
      eval::accumulate(res_.total, rec);
    }
    ++res_.num_batches;
  }

  EvalResult finish() { return std::move(res_); }
  int num_gpus() const { return table_.num_gpus(); }
  // Batching::kBalanced: a batcher of rows of `row` ids that replays each batch it cuts.
  eval::StepBatcher balanced_batcher(size_t row, int top_k) {
    return eval::StepBatcher(num_gpus(), opt_.batch_tokens, row,
                             [this, top_k](const expert_t* ids, int64_t m, const int* s, const int64_t* tok) {
                               batch(ids, top_k, m, s, tok);
                             });
  }

 private:
  EvalOptions opt_;
  std::optional<Placement> served_;  // the SGLang routers' layout (declared before table_)
  RoutingTable table_;
  eval::LayerCounter counter_;
  std::unique_ptr<Router> router_;
  SequencePinning pinning_;
  EvalResult res_;
};

}  // namespace

EvalResult evaluate(const Trace& trace, const Placement& placement, const Topology& topo, const ModelSpec& model,
                    const EvalOptions& options) {
  Replay replay(placement, topo, model, options);
  replay.check_chunk(trace);
  std::vector<int> src;
  replay.pin(trace, src);
  const int64_t n = trace.num_tokens(), B = options.batch_tokens;
  const size_t row = size_t(trace.num_layers) * trace.top_k;
  if (options.batching == Batching::kBalanced) {
    eval::StepBatcher steps = replay.balanced_batcher(row, trace.top_k);
    steps.push(trace.ids.data(), n, src.data(), trace.first_token);
    steps.finish();
    return replay.finish();
  }
  std::vector<int64_t> tok;
  for (int64_t b0 = 0; b0 < n; b0 += B) {
    const int64_t m = std::min(B, n - b0);
    tok.resize(size_t(m));
    std::iota(tok.begin(), tok.end(), trace.first_token + b0);
    replay.batch(trace.ids.data() + size_t(b0) * row, trace.top_k, m, src.data() + b0, tok.data());
  }
  return replay.finish();
}

EvalResult evaluate(TraceReader& reader, const Placement& placement, const Topology& topo, const ModelSpec& model,
                    const EvalOptions& options) {
  Replay replay(placement, topo, model, options);
  const int64_t B = options.batch_tokens;
  Trace chunk;
  std::vector<int> chunk_src;
  // The batch being filled: ids rows, source GPUs, global token indices.
  std::vector<expert_t> ids;
  std::vector<int> src;
  std::vector<int64_t> tok;
  int top_k = 0;
  size_t row = 0;
  std::optional<eval::StepBatcher> steps;  // Batching::kBalanced
  while (reader.next(chunk, B)) {
    replay.check_chunk(chunk);
    if (row == 0) {
      top_k = chunk.top_k;
      row = size_t(chunk.num_layers) * chunk.top_k;
    }
    GRACE_INPUT_CHECK(chunk.top_k == top_k, "trace chunks disagree on top_k ({} vs {})", chunk.top_k, top_k);
    replay.pin(chunk, chunk_src);
    const int64_t n = chunk.num_tokens();
    if (options.batching == Batching::kBalanced) {
      if (!steps) steps.emplace(replay.balanced_batcher(row, top_k));
      steps->push(chunk.ids.data(), n, chunk_src.data(), chunk.first_token);
      continue;
    }
    for (int64_t t0 = 0; t0 < n;) {
      const int64_t have = int64_t(src.size());
      const int64_t take = std::min(B - have, n - t0);
      ids.insert(ids.end(), chunk.ids.begin() + t0 * int64_t(row), chunk.ids.begin() + (t0 + take) * int64_t(row));
      src.insert(src.end(), chunk_src.begin() + t0, chunk_src.begin() + t0 + take);
      for (int64_t t = t0; t < t0 + take; ++t) tok.push_back(chunk.first_token + t);
      t0 += take;
      if (int64_t(src.size()) == B) {
        replay.batch(ids.data(), top_k, B, src.data(), tok.data());
        ids.clear();
        src.clear();
        tok.clear();
      }
    }
  }
  if (steps) steps->finish();
  replay.batch(ids.data(), top_k, int64_t(src.size()), src.data(), tok.data());
  return replay.finish();
}

}  // namespace grace
