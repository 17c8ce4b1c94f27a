// simulate_record / simulate: per-(batch, layer) time from the evaluator's counts (simulate.h).
#include "grace/simulate.h"

#include <algorithm>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/topology.h"
#include "sim/comm_model.h"

namespace grace {
namespace {

double max_of(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }

// Stage times of one record when the batch is cut into `chunks` chunks (one chunk's worth).
struct Stages {
  double dispatch_inter = 0, dispatch_intra = 0, dispatch = 0;
  double combine_inter = 0, combine_intra = 0, combine = 0;
  double compute = 0;
  std::vector<double> gpu_compute;
};

Stages stage_times(const LayerBatchRecord& rec, CommScheme comm, const Topology& topo, const ModelSpec& model,
                   int chunks) {
  const double bytes = double(model.token_bytes());
  Stages s;
  // Dispatch sends send_*; combine sends the same copies back, so send and receive swap.
  // Remote peers per GPU: flat exchanges with every GPU of the other nodes, hierarchical's
  // inter stage with one GPU per other node (the traffic is dense at the batch sizes modelled).
  const int peers = (topo.nodes - 1) * (comm == CommScheme::kFlat ? topo.gpus_per_node : 1);
  auto d_intra = intra_stage_us(rec.send_intra, rec.recv_intra, bytes, chunks, topo);
  auto d_inter = inter_stage_us(rec.send_inter, rec.recv_inter, bytes, chunks, peers, topo);
  auto c_intra = intra_stage_us(rec.recv_intra, rec.send_intra, bytes, chunks, topo);
  auto c_inter = inter_stage_us(rec.recv_inter, rec.send_inter, bytes, chunks, peers, topo);
  s.dispatch_inter = max_of(d_inter);
  s.dispatch_intra = max_of(d_intra);
  s.combine_inter = max_of(c_inter);
  s.combine_intra = max_of(c_intra);
  if (comm == CommScheme::kFlat) {
    // One all-to-all: both tiers in parallel, the slowest GPU sets the pace.
    for (size_t g = 0; g < d_intra.size(); ++g) {
      s.dispatch = std::max(s.dispatch, std::max(d_intra[g], d_inter[g]));
      s.combine = std::max(s.combine, std::max(c_intra[g], c_inter[g]));
    }
  } else {
    s.dispatch = s.dispatch_inter + s.dispatch_intra;
    s.combine = s.combine_intra + s.combine_inter;
  }
  const int G = topo.num_gpus();
  s.gpu_compute.assign(G, 0.0);
  for (int g = 0; g < G; ++g) s.gpu_compute[g] = gpu_compute_us(rec.gpu_expert_tokens[g], chunks, topo, model);
  s.compute = max_of(s.gpu_compute);
  return s;
}

// Pipelined time of `chunks` chunks through the stages (a classic linear pipeline).
double pipelined_us(const Stages& s, CommScheme comm, int chunks) {
  std::vector<double> st = comm == CommScheme::kFlat ? std::vector<double>{s.dispatch, s.compute, s.combine}
                                                     : std::vector<double>{s.dispatch_inter, s.dispatch_intra,
                                                                           s.compute, s.combine_intra, s.combine_inter};
  double sum = 0, mx = 0;
  for (double x : st) {
    sum += x;
    mx = std::max(mx, x);
  }
  return sum + double(chunks - 1) * mx;
}

}  // namespace

LayerTime& LayerTime::operator+=(const LayerTime& o) {
  dispatch_us += o.dispatch_us;
  dispatch_inter_us += o.dispatch_inter_us;
  dispatch_intra_us += o.dispatch_intra_us;
  compute_us += o.compute_us;
  combine_us += o.combine_us;
  total_us += o.total_us;
  overlap_us += o.overlap_us;
  idle_share += o.idle_share;
  best_chunks = o.best_chunks;
  return *this;
}

LayerTime LayerTime::scaled(double f) const {
  LayerTime t = *this;
  t.dispatch_us *= f;
  t.dispatch_inter_us *= f;
  t.dispatch_intra_us *= f;
  t.compute_us *= f;
  t.combine_us *= f;
  t.total_us *= f;
  t.overlap_us *= f;
  t.idle_share *= f;
  return t;
}

LayerTime simulate_record(const LayerBatchRecord& rec, CommScheme comm, const Topology& topo, const ModelSpec& model,
                          const SimOptions& options) {
  const int G = topo.num_gpus();
  GRACE_INPUT_CHECK(int(rec.gpu_expert_tokens.size()) == G && int(rec.send_intra.size()) == G &&
                        int(rec.recv_intra.size()) == G && int(rec.send_inter.size()) == G &&
                        int(rec.recv_inter.size()) == G,
                    "simulate: record (batch {}, layer {}) is for a different GPU count than topology '{}' ({})",
                    rec.batch, rec.layer, topo.name, G);
  GRACE_INPUT_CHECK(options.max_chunks >= 1, "simulate: max_chunks must be >= 1 (got {})", options.max_chunks);
  Stages s = stage_times(rec, comm, topo, model, 1);
  LayerTime t;
  t.dispatch_us = s.dispatch;
  t.compute_us = s.compute;
  t.combine_us = s.combine;
  t.dispatch_inter_us = s.dispatch_inter;
  t.dispatch_intra_us = s.dispatch_intra;
  t.total_us = s.dispatch + s.compute + s.combine;
  t.overlap_us = t.total_us;
  t.best_chunks = 1;
  for (int c = 2; c <= options.max_chunks; c *= 2) {
    double p = pipelined_us(stage_times(rec, comm, topo, model, c), comm, c);
    if (p < t.overlap_us) {
      t.overlap_us = p;
      t.best_chunks = c;
    }
  }
  if (s.compute > 0) {
    double idle = 0;
    for (double own : s.gpu_compute) idle += s.compute - own;
    t.idle_share = idle / (double(G) * s.compute);
  }
  return t;
}

SimResult simulate(const EvalResult& eval, const Topology& topo, const ModelSpec& model, const SimOptions& options) {
  GRACE_INPUT_CHECK(!eval.records.empty() || eval.num_batches == 0,
                    "simulate: the evaluation kept no per-batch records (EvalOptions::keep_records)");
  GRACE_INPUT_CHECK(eval.num_gpus == 0 || eval.num_gpus == topo.num_gpus(),
                    "simulate: evaluation has {} GPUs, topology '{}' has {}", eval.num_gpus, topo.name,
                    topo.num_gpus());
  SimResult r;
  r.comm = eval.comm;
  r.num_layers = eval.num_layers;
  r.num_gpus = topo.num_gpus();
  r.num_batches = eval.num_batches;
  r.batch_tokens = eval.batch_tokens;
  r.batching = eval.batching;
  int layers = eval.num_layers;
  for (const auto& rec : eval.records) layers = std::max(layers, rec.layer + 1);
  r.num_layers = layers;
  r.per_layer.assign(layers, LayerTime{});
  std::vector<int64_t> count(layers, 0);
  for (const auto& rec : eval.records) {
    GRACE_INPUT_CHECK(rec.layer >= 0, "simulate: record with negative layer {}", rec.layer);
    r.per_layer[rec.layer] += simulate_record(rec, eval.comm, topo, model, options);
    ++count[rec.layer];
  }
  int used = 0;
  for (int l = 0; l < layers; ++l) {
    if (count[l] == 0) continue;
    int chunks = r.per_layer[l].best_chunks;
    r.per_layer[l] = r.per_layer[l].scaled(1.0 / double(count[l]));
    r.per_layer[l].best_chunks = chunks;
    r.batch_total += r.per_layer[l];
    ++used;
  }
  r.batch_total.idle_share = used ? r.batch_total.idle_share / used : 0;
  r.mean_layer = r.batch_total.scaled(used ? 1.0 / used : 0.0);
  r.mean_layer.idle_share = r.batch_total.idle_share;
  r.mean_layer.best_chunks = r.batch_total.best_chunks;
  return r;
}

}  // namespace grace
