// The engine's main loop: batches x MoE layers of route, dispatch, compute, combine
// (see grace/engine/engine.h for the contract).
#include "grace/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "engine/exchange.h"
#include "engine/layer_compute.h"
#include "engine/rng.h"
#include "engine/token_pinning.h"
#include "engine/watchdog.h"
#include "grace/engine/comm.h"
#include "grace/engine/compute.h"
#include "grace/engine/weights.h"
#include "grace/error.h"
#include "grace/router.h"

namespace grace::engine {
namespace {

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Per-rank counters of one layer, reduced at the end: dispatch and combine TierCounts + pairs.
constexpr int kCounters = 9;
void add_counters(int64_t* c, const TierCounts& d, const TierCounts& m, int64_t pairs) {
  const int64_t v[kCounters] = {d.intra_bytes, d.inter_bytes, d.intra_rows, d.inter_rows,
                                m.intra_bytes, m.inter_bytes, m.intra_rows, m.inter_rows, pairs};
  for (int i = 0; i < kCounters; ++i) c[i] += v[i];
}

void load_weights(ComputeBackend& compute, WeightSource& ws, const Placement& pl, int L, int64_t H,
                  int64_t I, int me, Watchdog& wd) {
  compute.configure(H, I);
  ExpertWeights w;
  for (int l = 0; l < L; ++l) {
    wd.beat("loading weights", l);
    for (int e = 0; e < pl.num_experts; ++e)
      for (const Instance& inst : pl.layers[size_t(l)].experts[size_t(e)].instances)
        if (inst.gpu == me) {
          ws.load(l, e, w);
          compute.load_expert(l, e, {w.gate.data(), w.up.data(), w.down.data()});
        }
  }
}

// Test hook: never enter the next collective (the watchdogs must end the job).
[[noreturn]] void hang_forever(int me, int l) {
  std::fprintf(stderr, "grace run: rank %d hanging on purpose before dispatch at layer %d (fault injection)\n", me, l);
  std::fflush(stderr);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace

EngineResult run_engine(Comm& world, ComputeBackend& compute, const EngineInputs& in,
                        const EngineOptions& opt) {
  check_engine_inputs(in, opt, world.size());
  const double t_start = now_s();
  const Trace& tr = *in.trace;
  const Placement& pl = *in.placement;
  const Topology& topo = *in.topo;
  const int me = world.rank(), G = topo.gpus_per_node;
  const int my_node = me / G, my_local = me % G;
  const int L = opt.num_layers > 0 ? opt.num_layers : pl.num_layers;
  const int k = tr.top_k;
  const int64_t H = in.model.hidden, I = in.model.moe_intermediate;
  const bool hier = opt.comm == CommScheme::kHierarchical;

  Watchdog wd(opt.timeout_s, me, [&world] { world.abort(4); });
  load_weights(compute, *in.weights, pl, L, H, I, me, wd);
  wd.beat("split (node communicator)");
  std::unique_ptr<Comm> node = world.split(my_node, my_local);
  const StageComm world_sc{&world, [](int p) { return p; }, my_node, G};
  const StageComm node_sc{node.get(), [my_node, G](int p) { return my_node * G + p; }, my_node, G};
  const RowFormat f{H, k};

  const int64_t n_tokens = tr.num_tokens();
  int64_t nb = (n_tokens + opt.batch_tokens - 1) / opt.batch_tokens;
  if (opt.max_batches > 0) nb = std::min(nb, opt.max_batches);

  EngineResult res;
  res.comm = opt.comm == CommScheme::kHierarchical ? "hierarchical" : "flat";
  res.router = std::string(in.router->name());
  res.weights = in.weights->describe();
  res.compute = std::string(compute.name());
  res.ranks = world.size();
  res.nodes = topo.nodes;
  res.gpus_per_node = G;
  res.hidden = H;
  res.intermediate = I;
  res.top_k = k;
  res.batch_tokens = opt.batch_tokens;
  res.num_batches = nb;
  res.num_layers = L;
  res.row_bytes = int64_t(f.bytes());

  std::vector<double> phase(size_t(nb * L * 3), 0.0);  // per (batch, layer): dispatch, compute, combine
  std::vector<double> rank_compute(size_t(L), 0.0);
  std::vector<int64_t> counters(size_t(L) * kCounters, 0);

  TokenPinning pin(world.size());
  CommBuffer rows(world), s1_send(world), s1_recv(world), s2_send(*node), s2_recv(*node);
  CommBuffer results(world), node_acc(world), back1(world), back2(*node);
  LayerComputeScratch scratch;
  std::vector<int> src, dest;
  std::vector<int64_t> token_index, local;
  std::vector<float> x, acc;
  ExchangePlan plan1, plan2;

  for (int64_t b = 0; b < nb; ++b) {
    const int64_t begin = b * opt.batch_tokens, end = std::min(n_tokens, begin + opt.batch_tokens);
    const int64_t n = end - begin;
    src.resize(size_t(n));
    pin.assign(tr, begin, end, src.data());
    token_index.resize(size_t(n));
    local.clear();
    for (int64_t t = 0; t < n; ++t) {
      token_index[size_t(t)] = tr.first_token + begin + t;
      if (src[size_t(t)] == me) local.push_back(begin + t);
    }
    const int64_t nl = int64_t(local.size());
    x.resize(size_t(nl * H));
    for (int64_t i = 0; i < nl; ++i) init_hidden(opt.seed, tr.first_token + local[size_t(i)], H, &x[size_t(i * H)]);
    dest.resize(size_t(n * k));
    acc.resize(size_t(nl * H));

    for (int l = 0; l < L; ++l) {
      if (b == 0 && l == opt.fail_layer && me == opt.fail_rank) {
        std::fprintf(stderr, "grace run: rank %d failing on purpose at layer %d (fault injection)\n", me, l);
        std::fflush(stderr);
        std::_Exit(3);
      }
      if (b == 0 && l == opt.hang_layer && me == opt.hang_rank) hang_forever(me, l);
      wd.beat("route", l, b);
      RouteBatch rb;
      rb.layer = l;
      rb.num_tokens = n;
      rb.top_k = k;
      rb.ids = tr.topk(begin, l);
      rb.ids_stride = int64_t(tr.num_layers) * k;
      rb.src_gpu = src.data();
      rb.token_index = token_index.data();
      in.router->route(rb, dest.data());

      TierCounts dc, mc;
      double* ph = &phase[size_t((b * L + l) * 3)];
      wd.beat("barrier before dispatch", l, b);
      if (opt.phase_barrier) world.barrier();
      wd.beat("dispatch", l, b);
      double t0 = now_s();
      // Dispatch: pack this rank's tokens with their routing entries.
      char* rp = rows.reserve(size_t(nl) * f.bytes());
      for (int64_t i = 0; i < nl; ++i) {
        char* row = rp + size_t(i) * f.bytes();
        const int64_t t = local[size_t(i)];
        std::memcpy(row, &x[size_t(i * H)], size_t(H) * sizeof(float));
        RouteEntry* e = f.entries_of(row);
        const expert_t* ids = tr.topk(t, l);
        for (int j = 0; j < k; ++j)
          e[j] = {int32_t(ids[j]), dest[size_t((t - begin) * k + j)], gate_weight(tr, t, l, j)};
      }
      const char* final_rows;
      int64_t n_final;
      if (hier) {
        dispatch_stage(world_sc, f, rp, nl, [&](int g) { return topo.gpu_at(topo.node_of(g), my_local); },
                       plan1, s1_send, s1_recv, dc);
        wd.beat("dispatch stage 2 (node)", l, b);
        dispatch_stage(node_sc, f, s1_recv.data(), plan1.recv.total_rows,
                       [&](int g) { return topo.local_rank(g); }, plan2, s2_send, s2_recv, dc);
        final_rows = s2_recv.data();
        n_final = plan2.recv.total_rows;
      } else {
        dispatch_stage(world_sc, f, rp, nl, [](int g) { return g; }, plan1, s1_send, s1_recv, dc);
        final_rows = s1_recv.data();
        n_final = plan1.recv.total_rows;
      }
      ph[0] = now_s() - t0;

      wd.beat("barrier before compute", l, b);
      if (opt.phase_barrier) world.barrier();
      wd.beat("compute", l, b);
      t0 = now_s();
      float* out = reinterpret_cast<float*>(results.reserve(size_t(n_final * H) * sizeof(float)));
      const int64_t pairs = compute_partials(compute, l, pl.num_experts, f, final_rows, n_final, me, out, scratch);
      ph[1] = now_s() - t0;
      rank_compute[size_t(l)] += ph[1];

      wd.beat("barrier before combine", l, b);
      if (opt.phase_barrier) world.barrier();
      wd.beat("combine", l, b);
      t0 = now_s();
      if (hier) {
        const int64_t n1 = plan1.recv.total_rows;
        float* nacc = reinterpret_cast<float*>(node_acc.reserve(size_t(n1 * H) * sizeof(float)));
        combine_stage(node_sc, H, out, plan2, n1, nacc, back2, mc);
        wd.beat("combine stage 2 (world)", l, b);
        combine_stage(world_sc, H, nacc, plan1, nl, acc.data(), back1, mc);
      } else {
        combine_stage(world_sc, H, out, plan1, nl, acc.data(), back1, mc);
      }
      for (size_t i = 0; i < x.size(); ++i) x[i] += acc[i];  // residual
      ph[2] = now_s() - t0;
      add_counters(&counters[size_t(l) * kCounters], dc, mc, pairs);
      wd.beat("end of layer", l, b);
    }
    if (opt.keep_outputs) {
      res.out_tokens.insert(res.out_tokens.end(), local.begin(), local.end());
      res.out_hidden.insert(res.out_hidden.end(), x.begin(), x.end());
    }
    res.tokens += n;
  }
  for (auto& t : res.out_tokens) t += tr.first_token;

  // Reduce the statistics.
  wd.beat("reducing statistics");
  world.allreduce_max(phase.data(), int(phase.size()));
  std::vector<double> rc_max = rank_compute, rc_sum = rank_compute;
  world.allreduce_max(rc_max.data(), L);
  world.allreduce_sum(rc_sum.data(), L);
  world.allreduce_sum(counters.data(), int(counters.size()));
  double wmem = double(compute.memory_bytes());
  world.allreduce_max(&wmem, 1);
  res.weight_bytes_max = wmem;
  res.per_layer.resize(size_t(L));
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
  double wall = now_s() - t_start;
  world.allreduce_max(&wall, 1);
  res.wall_s = wall;
  return res;
}

}  // namespace grace::engine
