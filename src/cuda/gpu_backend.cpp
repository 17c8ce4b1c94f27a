// The GPU-resident backend of the engine (grace/cuda/gpu_backend.h).
#include "grace/cuda/gpu_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "cuda/cuda_check.h"
#include "grace/cuda/gate.h"
#include "grace/cuda/gpu_engine.h"
#include "grace/cuda/nccl_comm.h"
#include "grace/cuda/routing.h"
#include "grace/engine/backend.h"
#include "grace/engine/comm.h"
#include "grace/engine/gate.h"
#include "grace/engine/weights.h"
#include "grace/error.h"
#include "grace/router.h"
#include "grace/routing_table.h"

namespace grace::cuda {
namespace {

class CudaBackend : public engine::MoeBackend {
 public:
  CudaBackend(engine::Comm& world, const engine::EngineInputs& in, const engine::EngineOptions& opt, int device,
              uint64_t route_seed)
      : world_(world), in_(in), opt_(opt), table_(*in.placement, *in.topo) {
    // primary and tar route on the GPU (a kernel per pair); every other router routes on the
    // host, the whole batch on every rank as the cpu backend does, and its decisions go to the
    // device (under gate routing the ids computed on the GPU come to the host first).
    const std::string router(in.router->name());
    const std::vector<std::string> on_device = device_router_names();
    host_router_ = std::find(on_device.begin(), on_device.end(), router) == on_device.end();
    H_ = in.model.hidden;
    I_ = in.model.moe_intermediate;
    k_ = in.trace->top_k;
    GRACE_INPUT_CHECK(H_ % 8 == 0 && I_ % 8 == 0, "--backend cuda needs --hidden and --intermediate that are "
                      "multiples of 8 (got {} and {})", H_, I_);
    L_ = opt.num_layers > 0 ? opt.num_layers : in.placement->num_layers;
    GpuEngineConfig cfg;
    cfg.rank = world.rank();
    cfg.size = world.size();
    cfg.device = device;
    cfg.num_layers = L_;
    cfg.top_k = k_;
    cfg.hidden = H_;
    cfg.inter = I_;
    cfg.hierarchical = opt.comm == CommScheme::kHierarchical;
    cfg.router = host_router_ ? DeviceRouter::kPrimary : parse_device_router(router);
    cfg.route_seed = route_seed;
    cfg.generate_weights = false;
    const NcclId id = share_nccl_id(world);
    eng_ = std::make_unique<GpuMoeEngine>(id, cfg, *in.placement, *in.topo, table_);
    stream_ = static_cast<cudaStream_t>(eng_->stream());
    GRACE_CUDA_CHECK(cudaEventCreate(&ev_[0]));
    GRACE_CUDA_CHECK(cudaEventCreate(&ev_[1]));
  }
  ~CudaBackend() override {
    if (ahead_job_.valid()) ahead_job_.wait();
    // GRACE_CUDA_WIRE_STATS=1 (scripts/gpu-cluster.sh): what the dispatch capacities cost.
    if (const char* v = std::getenv("GRACE_CUDA_WIRE_STATS"); v && *v && *v != '0')
      std::fprintf(stderr,
                   "grace: cuda wire rank %d: %lld layer calls, %lld NCCL exchanges (%lld for overflow), "
                   "payload inter %.3f MB intra %.3f MB, on the wire inter %.3f MB intra %.3f MB\n",
                   world_.rank(), (long long)calls_, (long long)exchanges_, (long long)overflows_,
                   double(payload_[1]) / 1e6, double(payload_[0]) / 1e6, double(wire_[1]) / 1e6,
                   double(wire_[0]) / 1e6);
    cudaEventDestroy(ev_[0]);
    cudaEventDestroy(ev_[1]);
  }

  std::string_view name() const override { return "cuda"; }
  std::string compute_name() const override { return "cuda (bf16 rows, grouped expert GEMMs)"; }
  int64_t row_bytes() const override { return H_ * 2 + int64_t(k_) * 12; }
  double memory_bytes() const override { return weight_bytes_; }

  void load(int L, const std::function<void(int)>& beat_layer) override {
    engine::ExpertWeights w;
    gate_w_.resize(size_t(L));
    for (int l = 0; l < L; ++l) {
      beat_layer(l);
      const std::vector<int>& experts = eng_->local_experts(l);
      for (size_t s = 0; s < experts.size(); ++s) {
        in_.weights->load(l, experts[s], w);
        eng_->load_expert(l, int(s), w.gate.data(), w.up.data(), w.down.data());
        weight_bytes_ += 3.0 * double(H_) * double(I_) * 2;
      }
      if (opt_.gate_routing) {
        std::vector<float> g;
        in_.weights->load_gate(l, in_.placement->num_experts, g);
        gate_w_[size_t(l)].upload(g.data(), g.size());
      }
    }
    GRACE_CUDA_CHECK(cudaDeviceSynchronize());
  }

  void begin_batch(const float* x, int64_t nl) override {
    nl_ = nl;
    std::vector<bf16_t> hb(size_t(nl * H_));
    for (size_t i = 0; i < hb.size(); ++i) hb[i] = float_to_bf16(x[i]);
    x_.resize(std::max<size_t>(hb.size(), 1));
    y_.resize(std::max<size_t>(hb.size(), 1));
    to_device(x_.get(), hb.data(), hb.size() * 2);
    tok_batch_ = -1;
  }

  void end_batch(float* x) override {
    std::vector<bf16_t> hb(size_t(nl_ * H_));
    if (!hb.empty())
      GRACE_CUDA_CHECK(cudaMemcpyAsync(hb.data(), x_.get(), hb.size() * 2, cudaMemcpyDeviceToHost, stream_));
    GRACE_CUDA_CHECK(cudaStreamSynchronize(stream_));
    for (size_t i = 0; i < hb.size(); ++i) x[i] = bf16_to_float(hb[i]);
  }

  engine::LayerTimes layer(const engine::LayerWork& w, const engine::Beat& beat) override {
    const int64_t nl = w.nl;
    const size_t pairs = size_t(std::max<int64_t>(nl * k_, 1));
    ids_.resize(pairs);
    gw_.resize(pairs);
    if (tok_batch_ != w.batch) {  // this rank's tokens' global ids (the tar hash key), once per batch
      std::vector<int64_t> tok(size_t(std::max<int64_t>(nl, 1)));
      for (int64_t i = 0; i < nl; ++i) tok[size_t(i)] = w.token_index[w.local[i]];
      tok_.resize(tok.size());
      to_device(tok_.get(), tok.data(), tok.size() * 8);
      tok_batch_ = w.batch;
      // Every rank's token count (the pinning is the same on every rank): the dispatch
      // capacities scale with it.
      rank_tokens_.assign(size_t(world_.size()), 0);
      for (int64_t t = 0; t < w.n; ++t) ++rank_tokens_[size_t(w.src[t])];
    }
    float gate_ms = 0;
    if (opt_.gate_routing) {
      if (opt_.phase_barrier) eng_->barrier();
      beat("gate");
      const engine::GateSpec gs = engine::GateSpec::of(in_.model);
      const DeviceGateSpec dg{gs.experts, gs.top_k, gs.n_group, gs.topk_group, gs.norm_topk_prob};
      GRACE_CUDA_CHECK(cudaEventRecord(ev_[0], stream_));
      gate_on_device(x_.get(), gate_w_[size_t(w.layer)].get(), nl, H_, dg, ids_.get(), gw_.get(), nullptr, stream_);
      GRACE_CUDA_CHECK(cudaEventRecord(ev_[1], stream_));
      GRACE_CUDA_CHECK(cudaEventSynchronize(ev_[1]));
      GRACE_CUDA_CHECK(cudaEventElapsedTime(&gate_ms, ev_[0], ev_[1]));
    } else {  // the trace's gate weights of this rank's tokens, and the top-k ids for the GPU router
      std::vector<int32_t> hid(pairs);
      std::vector<float> hw(pairs);
      for (int64_t i = 0; i < nl; ++i)
        for (int j = 0; j < k_; ++j) {
          const int64_t t = w.local[i];
          hid[size_t(i * k_ + j)] = int32_t(w.ids[t * w.ids_stride + j]);
          hw[size_t(i * k_ + j)] = w.gate_w[t * k_ + j];
        }
      if (!host_router_) to_device(ids_.get(), hid.data(), pairs * 4);  // a host router reads w.ids
      to_device(gw_.get(), hw.data(), pairs * 4);
    }
    double host_route_s = 0;
    if (host_router_) {
      beat("route (host)");
      const auto t0 = std::chrono::steady_clock::now();
      route_on_host(w);
      host_route_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (opt_.phase_barrier) eng_->barrier();
    beat("gpu layer (dispatch, compute, combine)");
    // Trace routing with a host router: the next layer's routing runs on a host thread while
    // the GPU runs this one (its ids are known; the router is called in the same order).
    // Its start (copies of the batch arrays) counts in dispatch.
    if (host_router_ && !opt_.gate_routing && w.layer + 1 < L_) {
      const auto t0 = std::chrono::steady_clock::now();
      start_ahead(w);
      host_route_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    GpuLayerStats st;
    try {
      st = host_router_ ? eng_->forward_routed(w.layer, x_.get(), dest_.get(), slot_.get(), gw_.get(), nl, y_.get(),
                                               rank_tokens_.data())
                        : eng_->forward(w.layer, x_.get(), ids_.get(), gw_.get(), nl, 0, y_.get(), tok_.get(),
                                        rank_tokens_.data());
    } catch (...) {
      if (ahead_job_.valid()) ahead_job_.wait();  // it writes ahead_
      throw;
    }
    std::swap(x_, y_);
    engine::LayerTimes lt;
    lt.dispatch_s = (gate_ms + st.dispatch_ms) * 1e-3 + host_route_s;
    lt.compute_s = st.compute_ms * 1e-3;
    lt.combine_s = st.combine_ms * 1e-3;
    lt.dispatch = {st.bytes_intra - st.combine_bytes_intra, st.bytes_inter - st.combine_bytes_inter,
                   st.rows_intra - st.combine_rows_intra, st.rows_inter - st.combine_rows_inter};
    lt.combine = {st.combine_bytes_intra, st.combine_bytes_inter, st.combine_rows_intra, st.combine_rows_inter};
    lt.pairs = st.expert_rows;
    ++calls_;
    exchanges_ += st.exchanges;
    overflows_ += st.overflow_exchanges;
    payload_[0] += st.bytes_intra;
    payload_[1] += st.bytes_inter;
    wire_[0] += st.wire_bytes_intra;
    wire_[1] += st.wire_bytes_inter;
    return lt;
  }

 private:
  // One layer's routing decided on the host: this rank's pairs' serving GPUs and flat slots.
  struct HostRoute {
    int64_t batch = 0;
    int layer = -1;  // -1: nothing routed yet
    std::vector<int> all;  // [n][k] every batch token's serving GPUs
    std::vector<int32_t> dest, slot;  // [nl][k] this rank's pairs (grace/cuda/routing.h)
  };

  // A router with no GPU kernel: the whole batch routed on the host (the same call on every
  // rank, as the cpu backend makes), then this rank's pairs' serving GPUs and flat slots to
  // dest_ / slot_. With trace routing the layer was usually routed ahead (start_ahead) while
  // the GPU ran the layer before. Under gate routing the pairs' ids come from the device and
  // every rank's are summed into one batch-wide array first (each rank fills its own tokens'
  // rows), as the cpu backend gathers them.
  void route_on_host(const engine::LayerWork& w) {
    if (ahead_job_.valid()) ahead_job_.get();  // rethrows what the routing thread threw
    if (ahead_.layer == w.layer && ahead_.batch == w.batch) {
      std::swap(now_, ahead_);
    } else if (opt_.gate_routing) {
      std::vector<int32_t> lid(size_t(w.nl * k_));
      if (!lid.empty())
        GRACE_CUDA_CHECK(cudaMemcpyAsync(lid.data(), ids_.get(), lid.size() * 4, cudaMemcpyDeviceToHost, stream_));
      GRACE_CUDA_CHECK(cudaStreamSynchronize(stream_));
      engine::gather_batch_choices(world_, w, k_, lid.data(), nullptr, gate_ids_, nullptr);
      route_layer(w, gate_ids_.data(), k_, now_);
    } else {
      route_layer(w, w.ids, w.ids_stride, now_);
    }
    ahead_.layer = -1;
    const size_t pairs = size_t(std::max<int64_t>(w.nl * k_, 1));
    dest_.resize(pairs);
    slot_.resize(pairs);
    to_device(dest_.get(), now_.dest.data(), size_t(w.nl * k_) * 4);
    to_device(slot_.get(), now_.slot.data(), size_t(w.nl * k_) * 4);
  }

  // Routes layer w.layer + 1 of the same batch into ahead_ on a host thread. Its ids follow
  // this layer's (grace/engine/backend.h LayerWork: ids + top_k is the next layer's row). The
  // thread works on its own copies of the batch arrays, so nothing it reads can go away under it.
  void start_ahead(const engine::LayerWork& w) {
    struct Batch {
      engine::LayerWork w;
      std::vector<int> src;
      std::vector<int64_t> token_index, local;
      std::vector<expert_t> ids;
    };
    auto b = std::make_shared<Batch>();
    b->src.assign(w.src, w.src + w.n);
    b->token_index.assign(w.token_index, w.token_index + w.n);
    b->local.assign(w.local, w.local + w.nl);
    b->ids.resize(size_t(w.n * k_));
    for (int64_t t = 0; t < w.n; ++t)
      for (int j = 0; j < k_; ++j) b->ids[size_t(t * k_ + j)] = w.ids[t * w.ids_stride + k_ + j];
    b->w = w;
    b->w.layer = w.layer + 1;
    b->w.src = b->src.data();
    b->w.token_index = b->token_index.data();
    b->w.local = b->local.data();
    b->w.ids = b->ids.data();
    b->w.ids_stride = k_;
    b->w.gate_w = nullptr;
    ahead_job_ = std::async(std::launch::async, [this, b] { route_layer(b->w, b->w.ids, k_, ahead_); });
  }

  // The whole batch through the router, then this rank's pairs (thread-safe against the main
  // thread: it touches only `out`, the router and the immutable table).
  void route_layer(const engine::LayerWork& w, const expert_t* ids, int64_t stride, HostRoute& out) {
    engine::route_whole_batch(*in_.router, w, k_, ids, stride, out.all);
    const size_t pairs = size_t(std::max<int64_t>(w.nl * k_, 1));
    out.dest.resize(pairs);
    out.slot.resize(pairs);
    const int32_t* gso = table_.gpu_slot_offset(w.layer);
    for (int64_t i = 0; i < w.nl; ++i)
      for (int j = 0; j < k_; ++j) {
        const int64_t t = w.local[i];
        const int e = int(ids[t * stride + j]);
        const int g = out.all[size_t(t * k_ + j)];
        const int s = table_.slot_of(table_.le(w.layer, e), g);
        GRACE_CHECK(s >= 0, "router '{}' sent expert {} of layer {} to GPU {}, which does not hold it",
                    in_.router->name(), e, w.layer, g);
        out.dest[size_t(i * k_ + j)] = g;
        out.slot[size_t(i * k_ + j)] = gso[g] + s;
      }
    out.batch = w.batch;
    out.layer = w.layer;
  }

  void to_device(void* dst, const void* src, size_t bytes) {
    if (bytes == 0) return;
    GRACE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    GRACE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  engine::Comm& world_;
  const engine::EngineInputs in_;
  const engine::EngineOptions opt_;
  RoutingTable table_;
  std::unique_ptr<GpuMoeEngine> eng_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ev_[2] = {};
  int64_t H_ = 0, I_ = 0;
  int k_ = 0, L_ = 0;
  int64_t nl_ = 0, tok_batch_ = -1;
  double weight_bytes_ = 0;
  std::vector<int64_t> rank_tokens_;
  int64_t calls_ = 0, exchanges_ = 0, overflows_ = 0, payload_[2] = {0, 0}, wire_[2] = {0, 0};  // [intra, inter]
  DeviceBuffer<bf16_t> x_, y_;
  DeviceBuffer<int32_t> ids_;
  DeviceBuffer<float> gw_;
  DeviceBuffer<int64_t> tok_;
  bool host_router_ = false;  // the router has no GPU kernel: route_on_host
  std::vector<expert_t> gate_ids_;
  HostRoute now_, ahead_;        // this layer's routing; the next layer's, routed ahead
  std::future<void> ahead_job_;  // the thread filling ahead_
  DeviceBuffer<int32_t> dest_, slot_;
  std::vector<DeviceBuffer<float>> gate_w_;
};

}  // namespace

std::unique_ptr<engine::MoeBackend> make_cuda_backend(engine::Comm& world, const engine::EngineInputs& in,
                                                      const engine::EngineOptions& opt, int device,
                                                      uint64_t route_seed) {
  set_device(device);
  return std::make_unique<CudaBackend>(world, in, opt, device, route_seed);
}

}  // namespace grace::cuda
