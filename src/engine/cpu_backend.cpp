// The CPU backend of the engine (make_cpu_backend in grace/engine/backend.h): F32 host
// activations, rows exchanged through a Comm (MPI, or NCCL staged through the host), experts run
// by a ComputeBackend. Per layer: route the whole batch with the host Router (every rank gets the
// same decisions), pack this rank's rows, dispatch (flat: one all-to-all; hierarchical: per node,
// then inside the node), compute the hosted experts, combine back along the reverse path and add
// the residual.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "engine/exchange.h"
#include "engine/layer_compute.h"
#include "grace/engine/backend.h"
#include "grace/engine/comm.h"
#include "grace/engine/compute.h"
#include "grace/engine/gate.h"
#include "grace/engine/weights.h"
#include "grace/router.h"

namespace grace::engine {
namespace {

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

class CpuBackend : public MoeBackend {
 public:
  CpuBackend(Comm& world, ComputeBackend& compute, const EngineInputs& in, const EngineOptions& opt)
      : world_(world),
        compute_(compute),
        in_(in),
        opt_(opt),
        G_(in.topo->gpus_per_node),
        me_(world.rank()),
        f_{in.model.hidden, in.trace->top_k},
        rows_(world),
        s1_send_(world),
        s1_recv_(world),
        results_(world),
        node_acc_(world),
        back1_(world) {
    node_ = world.split(me_ / G_, me_ % G_);
    s2_send_ = std::make_unique<CommBuffer>(*node_);
    s2_recv_ = std::make_unique<CommBuffer>(*node_);
    back2_ = std::make_unique<CommBuffer>(*node_);
  }

  std::string_view name() const override { return "cpu"; }
  std::string compute_name() const override { return std::string(compute_.name()); }
  int64_t row_bytes() const override { return int64_t(f_.bytes()); }
  double memory_bytes() const override { return double(compute_.memory_bytes()); }

  void load(int L, const std::function<void(int)>& beat_layer) override {
    const Placement& pl = *in_.placement;
    compute_.configure(in_.model.hidden, in_.model.moe_intermediate);
    ExpertWeights w;
    gate_w_.assign(size_t(L), {});
    for (int l = 0; l < L; ++l) {
      beat_layer(l);
      for (int e = 0; e < pl.num_experts; ++e)
        for (const Instance& inst : pl.layers[size_t(l)].experts[size_t(e)].instances)
          if (inst.gpu == me_) {
            in_.weights->load(l, e, w);
            compute_.load_expert(l, e, {w.gate.data(), w.up.data(), w.down.data()});
          }
      if (opt_.gate_routing) in_.weights->load_gate(l, pl.num_experts, gate_w_[size_t(l)]);
    }
  }

  void begin_batch(const float* x, int64_t nl) override {
    x_.assign(x, x + nl * f_.hidden);
    acc_.resize(x_.size());
    nl_ = nl;
  }

  void end_batch(float* x) override { std::copy(x_.begin(), x_.end(), x); }

  LayerTimes layer(const LayerWork& w, const Beat& beat) override {
    const int l = w.layer, k = f_.top_k;
    const int64_t H = f_.hidden, nl = w.nl;
    const Topology& topo = *in_.topo;
    const int my_node = me_ / G_, my_local = me_ % G_;
    const expert_t* ids = w.ids;
    int64_t ids_stride = w.ids_stride;
    const float* gw = w.gate_w;
    if (opt_.gate_routing) {  // the router from this rank's hidden states, gathered to every rank
      beat("gate");
      gate_batch(w);
      ids = gate_ids_.data();
      ids_stride = k;
      gw = gate_wt_.data();
    }
    beat("route");
    route_whole_batch(*in_.router, w, k, ids, ids_stride, dest_);

    const StageComm world_sc{&world_, [](int p) { return p; }, my_node, G_};
    const StageComm node_sc{node_.get(), [my_node, G = G_](int p) { return my_node * G + p; }, my_node, G_};
    LayerTimes lt;
    beat("barrier before dispatch");
    if (opt_.phase_barrier) world_.barrier();
    beat("dispatch");
    double t0 = now_s();
    char* rp = rows_.reserve(size_t(nl) * f_.bytes());
    for (int64_t i = 0; i < nl; ++i) {
      char* row = rp + size_t(i) * f_.bytes();
      const int64_t t = w.local[i];
      std::memcpy(row, &x_[size_t(i * H)], size_t(H) * sizeof(float));
      RouteEntry* e = f_.entries_of(row);
      for (int j = 0; j < k; ++j) e[j] = {int32_t(ids[t * ids_stride + j]), dest_[size_t(t * k + j)], gw[t * k + j]};
    }
    const char* final_rows;
    int64_t n_final;
    if (hier()) {
      dispatch_stage(
          world_sc, f_, rp, nl, [&](int g) { return topo.gpu_at(topo.node_of(g), my_local); }, plan1_, s1_send_,
          s1_recv_, lt.dispatch);
      beat("dispatch stage 2 (node)");
      dispatch_stage(
          node_sc, f_, s1_recv_.data(), plan1_.recv.total_rows, [&](int g) { return topo.local_rank(g); }, plan2_,
          *s2_send_, *s2_recv_, lt.dispatch);
      final_rows = s2_recv_->data();
      n_final = plan2_.recv.total_rows;
    } else {
      dispatch_stage(
          world_sc, f_, rp, nl, [](int g) { return g; }, plan1_, s1_send_, s1_recv_, lt.dispatch);
      final_rows = s1_recv_.data();
      n_final = plan1_.recv.total_rows;
    }
    lt.dispatch_s = now_s() - t0;

    beat("barrier before compute");
    if (opt_.phase_barrier) world_.barrier();
    beat("compute");
    t0 = now_s();
    float* out = reinterpret_cast<float*>(results_.reserve(size_t(n_final * H) * sizeof(float)));
    lt.pairs = compute_partials(compute_, l, in_.placement->num_experts, f_, final_rows, n_final, me_, out, scratch_);
    lt.compute_s = now_s() - t0;

    beat("barrier before combine");
    if (opt_.phase_barrier) world_.barrier();
    beat("combine");
    t0 = now_s();
    if (hier()) {
      const int64_t n1 = plan1_.recv.total_rows;
      float* nacc = reinterpret_cast<float*>(node_acc_.reserve(size_t(n1 * H) * sizeof(float)));
      combine_stage(node_sc, H, out, plan2_, n1, nacc, *back2_, lt.combine);
      beat("combine stage 2 (world)");
      combine_stage(world_sc, H, nacc, plan1_, nl, acc_.data(), back1_, lt.combine);
    } else {
      combine_stage(world_sc, H, out, plan1_, nl, acc_.data(), back1_, lt.combine);
    }
    for (size_t i = 0; i < x_.size(); ++i) x_[i] += acc_[i];  // residual
    lt.combine_s = now_s() - t0;
    return lt;
  }

 private:
  bool hier() const { return opt_.comm == CommScheme::kHierarchical; }

  // Gate routing: logits of this rank's tokens, top-k, then every rank's decisions to every rank
  // (a sum of arrays that each rank fills at its own tokens' positions), so the Router sees the
  // whole batch exactly as with trace routing.
  void gate_batch(const LayerWork& w) {
    const int k = f_.top_k, E = in_.placement->num_experts;
    const GateSpec gs = GateSpec::of(in_.model);
    logits_.resize(size_t(w.nl) * E);
    gate_logits(x_.data(), w.nl, f_.hidden, gate_w_[size_t(w.layer)].data(), E, logits_.data());
    std::vector<int32_t> lid(size_t(w.nl * k));
    std::vector<float> lw(size_t(w.nl * k));
    gate_topk(logits_.data(), w.nl, gs, lid.data(), lw.data());
    gather_batch_choices(world_, w, k, lid.data(), lw.data(), gate_ids_, &gate_wt_);
  }

  Comm& world_;
  ComputeBackend& compute_;
  const EngineInputs in_;
  const EngineOptions opt_;
  const int G_, me_;
  const RowFormat f_;
  std::unique_ptr<Comm> node_;
  CommBuffer rows_, s1_send_, s1_recv_, results_, node_acc_, back1_;
  std::unique_ptr<CommBuffer> s2_send_, s2_recv_, back2_;
  LayerComputeScratch scratch_;
  ExchangePlan plan1_, plan2_;
  std::vector<int> dest_;
  std::vector<float> x_, acc_, logits_;
  int64_t nl_ = 0;
  std::vector<std::vector<float>> gate_w_;
  std::vector<expert_t> gate_ids_;
  std::vector<float> gate_wt_;
};

}  // namespace

std::unique_ptr<MoeBackend> make_cpu_backend(Comm& world, ComputeBackend& compute, const EngineInputs& in,
                                             const EngineOptions& opt) {
  return std::make_unique<CpuBackend>(world, compute, in, opt);
}

}  // namespace grace::engine
