// The engine's driver loop: batches x MoE layers over a backend (see grace/engine/engine.h and
// grace/engine/backend.h). This file is the engine's whole flow:
//   start-up agreement (hashes of placement + configuration, compared over the world)
//   -> the backend loads this rank's weights
//   -> per batch: pin sequences to ranks (SequencePinning, as the evaluator does), make this
//      rank's initial hidden states, then per MoE layer hand the routing inputs (trace top-k +
//      gate weights, or nothing with gate routing) to the backend, which runs route -> dispatch
//      -> compute -> combine + residual and reports phase times and bytes
//   -> reduce the statistics over the ranks.
#include "grace/engine/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "engine/layer_compute.h"
#include "engine/rng.h"
#include "engine/watchdog.h"
#include "eval/step_batcher.h"
#include "grace/engine/backend.h"
#include "grace/engine/comm.h"
#include "grace/engine/compute.h"
#include "grace/engine/weights.h"
#include "grace/router.h"
#include "grace/token_pinning.h"

namespace grace::engine {
namespace {

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Per-rank counters of one layer, reduced at the end: dispatch and combine TierCounts + pairs.
constexpr int kCounters = 9;
void add_counters(int64_t* c, const LayerTimes& t) {
  const TierCounts &d = t.dispatch, &m = t.combine;
  const int64_t v[kCounters] = {d.intra_bytes, d.inter_bytes, d.intra_rows, d.inter_rows, m.intra_bytes,
                                m.inter_bytes, m.intra_rows,  m.inter_rows, t.pairs};
  for (int i = 0; i < kCounters; ++i) c[i] += v[i];
}

// Test hook: never enter the next collective (the watchdogs must end the job).
[[noreturn]] void hang_forever(int me, int l) {
  std::fprintf(stderr, "grace run: rank %d hanging on purpose before dispatch at layer %d (fault injection)\n", me, l);
  std::fflush(stderr);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

void reduce_stats(Comm& world, int L, int64_t nb, std::vector<double>& phase, std::vector<double>& rank_compute,
                  std::vector<int64_t>& counters, EngineResult& res) {
  world.allreduce_max(phase.data(), int(phase.size()));
  std::vector<double> rc_max = rank_compute, rc_sum = rank_compute;
  world.allreduce_max(rc_max.data(), L);
  world.allreduce_sum(rc_sum.data(), L);
  world.allreduce_sum(counters.data(), int(counters.size()));
  res.per_layer.assign(size_t(L), {});
  res.call_s.resize(size_t(nb * L));
  for (size_t c = 0; c < res.call_s.size(); ++c) res.call_s[c] = phase[c * 3] + phase[c * 3 + 1] + phase[c * 3 + 2];
  for (int l = 0; l < L; ++l) {
    EngineLayerStats& s = res.per_layer[size_t(l)];
    for (int64_t b = 0; b < nb; ++b) {
      const double* ph = &phase[size_t((b * L + l) * 3)];
      s.dispatch_s += ph[0];
      s.compute_s += ph[1];
      s.combine_s += ph[2];
    }
    s.compute_rank_max_s = rc_max[size_t(l)];
    s.compute_rank_mean_s = rc_sum[size_t(l)] / world.size();
    const int64_t* c = &counters[size_t(l) * kCounters];
    s.dispatch = {c[0], c[1], c[2], c[3]};
    s.combine = {c[4], c[5], c[6], c[7]};
    s.pairs = c[8];
    EngineLayerStats& t = res.total;
    t.dispatch_s += s.dispatch_s;
    t.compute_s += s.compute_s;
    t.combine_s += s.combine_s;
    t.compute_rank_max_s += s.compute_rank_max_s;
    t.compute_rank_mean_s += s.compute_rank_mean_s;
    for (auto [dst, src_] : {std::pair{&t.dispatch, &s.dispatch}, std::pair{&t.combine, &s.combine}}) {
      dst->intra_bytes += src_->intra_bytes;
      dst->inter_bytes += src_->inter_bytes;
      dst->intra_rows += src_->intra_rows;
      dst->inter_rows += src_->inter_rows;
    }
    t.pairs += s.pairs;
  }
}

}  // namespace

EngineResult run_engine(Comm& world, ComputeBackend& compute, const EngineInputs& in, const EngineOptions& opt) {
  check_engine_inputs(in, opt, world.size());
  auto backend = make_cpu_backend(world, compute, in, opt);
  return run_engine(world, *backend, in, opt);
}

EngineResult run_engine(Comm& world, MoeBackend& backend, const EngineInputs& in, const EngineOptions& opt) {
  check_engine_inputs(in, opt, world.size());
  // Start-up agreement: nothing is exchanged before every rank knows the others run the same.
  const std::string mismatch = check_same_config(world, engine_config_hashes(in, opt, backend.name()));
  if (!mismatch.empty()) throw StartupMismatch(mismatch);

  const double t_start = now_s();
  const Trace& tr = *in.trace;
  const Placement& pl = *in.placement;
  const Topology& topo = *in.topo;
  const int me = world.rank();
  const int L = opt.num_layers > 0 ? opt.num_layers : pl.num_layers;
  const int k = tr.top_k;
  const int64_t H = in.model.hidden;

  // A rank whose weights failed to load waits in the agreement below for the others to finish
  // loading; should the watchdog end the job first, it prints that rank's error before aborting.
  std::string load_error;
  std::atomic<bool> load_failed{false};
  Watchdog wd(opt.timeout_s, me, [&world, &load_error, &load_failed, me] {
    if (load_failed.load(std::memory_order_acquire)) {
      std::fprintf(stderr, "grace: error: rank %d: %s\n", me, one_line(load_error).c_str());
      std::fflush(stderr);
    }
    world.abort(4);
  });
  {  // Loading is where a rank meets its own experts' tensors: agree before exchanging anything.
    int code = 0;
    std::string& msg = load_error;
    try {
      backend.load(L, [&wd](int l) { wd.beat("loading weights", l); });
    } catch (const InputError& e) {
      code = 2, msg = e.what();
    } catch (const std::exception& e) {
      code = 1, msg = std::string("internal error: ") + e.what();
    }
    load_failed.store(code != 0, std::memory_order_release);
    wd.beat("agreeing on the loaded weights");
    const SetupVerdict v = agree_on_setup(world, code);
    if (v.code != 0) throw LoadFailure(v.code, v.reporter, me == v.reporter ? msg : std::string());
  }

  const int64_t n_tokens = tr.num_tokens();
  // Balanced batches: every token pinned once, then cut as the evaluator cuts them
  // (eval/step_batcher.h); a batch is a list of trace positions and their ranks.
  const bool balanced = opt.batching == Batching::kBalanced;
  std::vector<std::vector<int64_t>> bal_pos;
  std::vector<std::vector<int>> bal_src;
  if (balanced) {
    std::vector<int> all_src(static_cast<size_t>(n_tokens));
    SequencePinning(world.size()).assign(tr, 0, n_tokens, all_src.data());
    static const expert_t kNoRow = 0;  // rows of width 0: only positions and ranks are wanted
    eval::StepBatcher cut(world.size(), opt.batch_tokens, 0,
                          [&](const expert_t*, int64_t m, const int* s, const int64_t* tok) {
                            bal_pos.emplace_back(tok, tok + m);
                            bal_src.emplace_back(s, s + m);
                          });
    cut.push(&kNoRow, n_tokens, all_src.data(), 0);
    cut.finish();
  }
  int64_t nb = balanced ? int64_t(bal_pos.size()) : (n_tokens + opt.batch_tokens - 1) / opt.batch_tokens;
  if (opt.max_batches > 0) nb = std::min(nb, opt.max_batches);

  EngineResult res;
  res.backend = std::string(backend.name());
  res.routing = opt.gate_routing ? "gate" : "trace";
  res.comm = comm_scheme_name(opt.comm);
  res.router = std::string(in.router->name());
  res.weights = in.weights->describe();
  res.compute = backend.compute_name();
  res.ranks = world.size();
  res.nodes = topo.nodes;
  res.gpus_per_node = topo.gpus_per_node;
  res.hidden = H;
  res.intermediate = in.model.moe_intermediate;
  res.top_k = k;
  res.batch_tokens = opt.batch_tokens;
  res.batching = batching_name(opt.batching);
  res.num_batches = nb;
  res.num_layers = L;
  res.row_bytes = backend.row_bytes();

  std::vector<double> phase(size_t(nb * L * 3), 0.0);  // per (batch, layer): dispatch, compute, combine
  std::vector<double> rank_compute(size_t(L), 0.0);
  std::vector<int64_t> counters(size_t(L) * kCounters, 0);

  SequencePinning pin(world.size());
  std::vector<int> src;
  std::vector<int64_t> token_index, local;
  std::vector<float> x, gate_w;
  std::vector<expert_t> rows;  // balanced: the batch's routing rows, gathered
  const int64_t row_ids = int64_t(tr.num_layers) * k;
  // One batch; timed = false for warm-up runs (nothing recorded, fault hooks off).
  auto run_batch = [&](int64_t b, bool timed) {
    // pos(t): the trace position of the batch's token t.
    const int64_t begin = balanced ? 0 : b * opt.batch_tokens;
    const int64_t n =
        balanced ? int64_t(bal_pos[size_t(b)].size()) : std::min(n_tokens, begin + opt.batch_tokens) - begin;
    auto pos = [&](int64_t t) { return balanced ? bal_pos[size_t(b)][size_t(t)] : begin + t; };
    src.resize(size_t(n));
    if (balanced) {
      src = bal_src[size_t(b)];
      rows.resize(size_t(n * row_ids));
      for (int64_t t = 0; t < n; ++t) std::copy_n(tr.topk(pos(t), 0), row_ids, rows.begin() + ptrdiff_t(t * row_ids));
    } else if (timed) {
      pin.assign(tr, begin, begin + n, src.data());
    } else {  // a warm-up pins with a fresh state (the timed run pins batch 0 again)
      SequencePinning warm(world.size());
      warm.assign(tr, begin, begin + n, src.data());
    }
    token_index.resize(size_t(n));
    local.clear();
    for (int64_t t = 0; t < n; ++t) {
      token_index[size_t(t)] = tr.first_token + pos(t);
      if (src[size_t(t)] == me) local.push_back(t);
    }
    const int64_t nl = int64_t(local.size());
    x.resize(size_t(nl * H));
    for (int64_t i = 0; i < nl; ++i) init_hidden(opt.seed, token_index[size_t(local[size_t(i)])], H, &x[size_t(i * H)]);
    backend.begin_batch(x.data(), nl);

    for (int l = 0; l < L; ++l) {
      if (timed && b == 0 && l == opt.fail_layer && me == opt.fail_rank) {
        std::fprintf(stderr, "grace run: rank %d failing on purpose at layer %d (fault injection)\n", me, l);
        std::fflush(stderr);
        std::_Exit(3);
      }
      if (timed && b == 0 && l == opt.hang_layer && me == opt.hang_rank) hang_forever(me, l);
      LayerWork w;
      w.layer = l;
      w.batch = timed ? b : -1 - b;
      w.n = n;
      w.src = src.data();
      w.token_index = token_index.data();
      w.local = local.data();
      w.nl = nl;
      w.top_k = k;
      if (!opt.gate_routing) {
        gate_w.resize(size_t(n * k));
        for (int64_t t = 0; t < n; ++t)
          for (int j = 0; j < k; ++j) gate_w[size_t(t * k + j)] = gate_weight(tr, pos(t), l, j);
        w.ids = balanced ? rows.data() + size_t(l) * k : tr.topk(begin, l);
        w.ids_stride = row_ids;
        w.gate_w = gate_w.data();
      }
      const LayerTimes lt = backend.layer(w, [&wd, l, b](const char* what) { wd.beat(what, l, b); });
      if (timed) {
        double* ph = &phase[size_t((b * L + l) * 3)];
        ph[0] = lt.dispatch_s;
        ph[1] = lt.compute_s;
        ph[2] = lt.combine_s;
        rank_compute[size_t(l)] += lt.compute_s;
        add_counters(&counters[size_t(l) * kCounters], lt);
      }
      wd.beat("end of layer", l, b);
    }
    backend.end_batch(x.data());
    if (timed && opt.keep_outputs) {
      for (int64_t t : local) res.out_tokens.push_back(token_index[size_t(t)]);
      res.out_hidden.insert(res.out_hidden.end(), x.begin(), x.end());
    }
    if (timed) res.tokens += n;
  };
  for (int w = 0; w < opt.warmup_batches && nb > 0; ++w) run_batch(0, false);
  for (int64_t b = 0; b < nb; ++b) run_batch(b, true);

  wd.beat("reducing statistics");
  reduce_stats(world, L, nb, phase, rank_compute, counters, res);
  double wmem = backend.memory_bytes();
  world.allreduce_max(&wmem, 1);
  res.weight_bytes_max = wmem;
  double wall = now_s() - t_start;
  world.allreduce_max(&wall, 1);
  res.wall_s = wall;
  return res;
}

}  // namespace grace::engine
