// GpuMoeEngine: the device-resident MoE layer over NCCL (contract in grace/cuda/gpu_engine.h).
//
// Per layer: route on the device -> dispatch over one A2aStage (flat: the world) or two
// (hierarchical: the world per node, then the node) -> the local experts (LocalMoeLayer) ->
// combine back through the same stages -> residual. The all-to-all itself (messages with a
// capacity, no count exchange) is src/cuda/a2a_stage.cpp.
#include "grace/cuda/gpu_engine.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/gpu_engine_kernels.h"
#include "grace/cuda/moe_layer.h"
#include "grace/cuda/permute.h"
#include "grace/error.h"
#include "grace/placement.h"
#include "grace/routing_table.h"
#include "grace/topology.h"

#ifdef GRACE_HAVE_NCCL
#include <nccl.h>

#include "cuda/a2a_stage.h"
#endif

namespace grace::cuda {

void fill_expert_weights(int expert, uint64_t seed, int64_t hidden, int64_t inter, bf16_t* w13, bf16_t* w2,
                         Stream stream) {
  const uint64_t base = seed * 1000003ull + uint64_t(expert) * 2ull;
  fill_uniform_bf16(w13, 2 * inter * hidden, base, 1.0f / std::sqrt(float(hidden)), stream);
  fill_uniform_bf16(w2, hidden * inter, base + 1, 1.0f / std::sqrt(float(inter)), stream);
}

#ifdef GRACE_HAVE_NCCL

// One MoE layer's local expert slots on this GPU.
struct LocalLayer {
  std::vector<int> experts;  // slot -> expert
  int num_local = 0, slot_base = 0;
  DeviceBuffer<bf16_t> w13, w2;
  std::unique_ptr<LocalMoeLayer> moe;
};

struct GpuMoeEngine::Impl {
  GpuEngineConfig cfg;
  int gpn = 1, my_node = 0;
  int num_local = 0, slot_base = 0;  // of the layer being run
  std::vector<LocalLayer> layers;
  LocalLayer* cur = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t ev[4] = {};
  ncclComm_t world = nullptr, node = nullptr;
  DeviceRoutingTable table;
  A2aStage s1, s2;
  DeviceBuffer<bf16_t> partial, partial1;
  DeviceBuffer<int32_t> dest, slot, lkeys;
  DeviceBuffer<float> scratch;
  GpuLayerStats stats;

  Impl(const GpuEngineConfig& c, const RoutingTable& t) : cfg(c), table(t) {}

  // The expert GPU: units [st.m] with metadata -> gate-weighted partial sums [st.m][H].
  void compute(A2aStage& st, bf16_t* out_partial) {
    const int64_t m = st.m();
    if (m == 0) return;
    lkeys.resize(size_t(m) * cfg.top_k);
    local_keys(st.recv_dest(), st.recv_slot(), m * cfg.top_k, cfg.rank, slot_base, num_local, lkeys.get(), stream);
    if (num_local == 0) {
      GRACE_CUDA_CHECK(cudaMemsetAsync(out_partial, 0, size_t(m) * cfg.hidden * 2, stream));
      return;
    }
    cur->moe->forward(st.recv_rows(), lkeys.get(), st.recv_w(), m, cur->w13.get(), cur->w2.get(), out_partial,
                      stream);
  }

  // A forward call's start: the layer's slots, fresh stats, routing buffers, the first event.
  void begin(int layer, int64_t tokens) {
    set_device(cfg.device);
    GRACE_CHECK(layer >= 0 && layer < cfg.num_layers, "GpuMoeEngine::forward: layer {} of {}", layer,
                cfg.num_layers);
    cur = &layers[size_t(layer)];
    num_local = cur->num_local;
    slot_base = cur->slot_base;
    stats = GpuLayerStats{};
    const size_t pairs = size_t(std::max<int64_t>(tokens * cfg.top_k, 1));
    dest.resize(pairs);
    slot.resize(pairs);
    GRACE_CUDA_CHECK(cudaEventRecord(ev[0], stream));
  }

  // Dispatch (routing decided: dest_gpu / flat_slot per pair), compute, combine, residual.
  GpuLayerStats run(int layer, const bf16_t* x, const int32_t* dest_gpu, const int32_t* flat_slot,
                    const float* gate_w, int64_t tokens, bf16_t* out, const int64_t* rank_tokens) {
    const int64_t H = cfg.hidden;
    if (rank_tokens)
      GRACE_CHECK(rank_tokens[cfg.rank] == tokens, "GpuMoeEngine::forward: rank_tokens[{}] = {}, but {} "
                  "tokens were given", cfg.rank, rank_tokens[cfg.rank], tokens);
    s1.dispatch(layer, x, tokens, dest_gpu, flat_slot, gate_w, rank_tokens, stream, stats);
    A2aStage& last = cfg.hierarchical ? s2 : s1;
    if (cfg.hierarchical)
      s2.dispatch(layer, s1.recv_rows(), s1.m(), s1.recv_dest(), s1.recv_slot(), s1.recv_w(), nullptr, stream,
                  stats);
    GRACE_CUDA_CHECK(cudaEventRecord(ev[1], stream));
    partial.resize(size_t(std::max<int64_t>(last.m(), 1)) * H);
    compute(last, partial.get());
    GRACE_CUDA_CHECK(cudaEventRecord(ev[2], stream));
    if (cfg.hierarchical) {
      partial1.resize(size_t(std::max<int64_t>(s1.m(), 1)) * H);
      s2.combine(partial.get(), partial1.get(), stream, stats);
      s1.combine(partial1.get(), out, stream, stats);
    } else {
      s1.combine(partial.get(), out, stream, stats);
    }
    if (tokens > 0) add_residual(x, tokens * H, out, stream);
    GRACE_CUDA_CHECK(cudaEventRecord(ev[3], stream));
    GRACE_CUDA_CHECK(cudaEventSynchronize(ev[3]));
    GRACE_CUDA_CHECK(cudaEventElapsedTime(&stats.dispatch_ms, ev[0], ev[1]));
    GRACE_CUDA_CHECK(cudaEventElapsedTime(&stats.compute_ms, ev[1], ev[2]));
    GRACE_CUDA_CHECK(cudaEventElapsedTime(&stats.combine_ms, ev[2], ev[3]));
    if (last.m() > 0 && num_local > 0) stats.expert_rows = cur->moe->buckets().host_offsets(stream)[num_local];
    return stats;
  }
};

GpuMoeEngine::GpuMoeEngine(const NcclId& id, const GpuEngineConfig& cfg, const Placement& placement,
                           const Topology& topo, const RoutingTable& table) {
  GRACE_CHECK(topo.nodes * topo.gpus_per_node == cfg.size, "topology {}x{} does not have {} GPUs", topo.nodes,
              topo.gpus_per_node, cfg.size);
  GRACE_CHECK(cfg.hidden % 8 == 0 && cfg.inter % 8 == 0 && cfg.top_k > 0, "bad layer shape");
  set_device(cfg.device);
  GRACE_CHECK(cfg.num_layers >= 1 && cfg.num_layers <= placement.num_layers, "GpuMoeEngine: {} layers of {}",
              cfg.num_layers, placement.num_layers);
  impl_ = std::make_unique<Impl>(cfg, table);
  Impl& im = *impl_;
  im.gpn = topo.gpus_per_node;
  im.my_node = cfg.rank / im.gpn;
  GRACE_CUDA_CHECK(cudaStreamCreateWithFlags(&im.stream, cudaStreamNonBlocking));
  for (auto& e : im.ev) GRACE_CUDA_CHECK(cudaEventCreate(&e));
  const int64_t H = cfg.hidden, I = cfg.inter;
  im.layers.resize(size_t(cfg.num_layers));
  for (int l = 0; l < cfg.num_layers; ++l) {
    LocalLayer& ll = im.layers[size_t(l)];
    ll.experts = placement.gpu_slots(l)[cfg.rank];
    const int32_t* gso = table.gpu_slot_offset(l);
    GRACE_CHECK(gso[cfg.rank + 1] - gso[cfg.rank] == int(ll.experts.size()), "slot count mismatch on GPU {}",
                cfg.rank);
    ll.num_local = int(ll.experts.size());
    ll.slot_base = gso[cfg.rank];
    ll.moe = std::make_unique<LocalMoeLayer>(std::max(ll.num_local, 1), cfg.top_k, H, I);
    ll.w13.resize(size_t(std::max(ll.num_local, 1)) * 2 * I * H);
    ll.w2.resize(size_t(std::max(ll.num_local, 1)) * H * I);
    if (cfg.generate_weights)
      for (int s = 0; s < ll.num_local; ++s)
        fill_expert_weights(ll.experts[size_t(s)], cfg.weight_seed, H, I, ll.w13.get() + size_t(s) * 2 * I * H,
                            ll.w2.get() + size_t(s) * H * I, im.stream);
  }
  ncclUniqueId uid;
  static_assert(sizeof(uid) == sizeof(id.bytes), "NCCL unique id size");
  std::memcpy(&uid, id.bytes, sizeof(uid));
  GRACE_NCCL_CHECK(ncclCommInitRank(&im.world, cfg.size, uid, cfg.rank));
  const int gpn = im.gpn, me_local = cfg.rank % gpn;
  std::vector<bool> inter1(size_t(cfg.size));
  for (int g = 0; g < cfg.size; ++g) inter1[size_t(g)] = g / gpn != im.my_node;
  im.s1.init(im.world, cfg.size, cfg.rank, inter1,
             StagePeers{cfg.hierarchical ? StageMap::kNode : StageMap::kFlat, gpn, me_local, cfg.size}, cfg.top_k, H);
  if (cfg.hierarchical) {
    GRACE_NCCL_CHECK(ncclCommSplit(im.world, im.my_node, me_local, &im.node, nullptr));
    im.s2.init(im.node, gpn, me_local, std::vector<bool>(size_t(gpn), false),
               StagePeers{StageMap::kLocal, gpn, me_local, gpn}, cfg.top_k, H);
  }
  GRACE_CUDA_CHECK(cudaStreamSynchronize(im.stream));
}

GpuMoeEngine::~GpuMoeEngine() {
  if (!impl_) return;
  cudaSetDevice(impl_->cfg.device);
  cudaStreamSynchronize(impl_->stream);
  if (impl_->node) ncclCommDestroy(impl_->node);
  if (impl_->world) ncclCommDestroy(impl_->world);
  for (auto& e : impl_->ev) cudaEventDestroy(e);
  cudaStreamDestroy(impl_->stream);
}

const std::vector<int>& GpuMoeEngine::local_experts(int layer) const { return impl_->layers.at(size_t(layer)).experts; }

void GpuMoeEngine::load_expert(int layer, int slot, const float* gate, const float* up, const float* down) {
  Impl& im = *impl_;
  set_device(im.cfg.device);
  LocalLayer& ll = im.layers.at(size_t(layer));
  GRACE_CHECK(slot >= 0 && slot < ll.num_local, "load_expert: slot {} of {}", slot, ll.num_local);
  const int64_t H = im.cfg.hidden, I = im.cfg.inter;
  std::vector<bf16_t> w13(size_t(2 * I * H)), w2(size_t(H * I));
  for (int64_t i = 0; i < I * H; ++i) {
    w13[size_t(i)] = float_to_bf16(gate[i]);
    w13[size_t(I * H + i)] = float_to_bf16(up[i]);
    w2[size_t(i)] = float_to_bf16(down[i]);
  }
  GRACE_CUDA_CHECK(cudaMemcpy(ll.w13.get() + size_t(slot) * 2 * I * H, w13.data(), w13.size() * 2,
                              cudaMemcpyHostToDevice));
  GRACE_CUDA_CHECK(cudaMemcpy(ll.w2.get() + size_t(slot) * H * I, w2.data(), w2.size() * 2, cudaMemcpyHostToDevice));
}

GpuLayerStats GpuMoeEngine::forward(int layer, const bf16_t* x, const int32_t* ids, const float* gate_w,
                                    int64_t tokens, int64_t token_base, bf16_t* out, const int64_t* token_index,
                                    const int64_t* rank_tokens) {
  Impl& im = *impl_;
  const auto& c = im.cfg;
  im.begin(layer, tokens);
  DeviceRouteBatch rb;
  rb.layer = layer;
  rb.num_tokens = tokens;
  rb.top_k = c.top_k;
  rb.ids = ids;
  rb.src_gpu_all = c.rank;
  rb.token_base = token_base;
  rb.token_index = token_index;
  if (tokens > 0) route_on_device(im.table, c.router, c.route_seed, rb, im.dest.get(), im.slot.get(), im.stream);
  return im.run(layer, x, im.dest.get(), im.slot.get(), gate_w, tokens, out, rank_tokens);
}

GpuLayerStats GpuMoeEngine::forward_routed(int layer, const bf16_t* x, const int32_t* dest, const int32_t* flat_slot,
                                           const float* gate_w, int64_t tokens, bf16_t* out,
                                           const int64_t* rank_tokens) {
  Impl& im = *impl_;
  im.begin(layer, tokens);
  return im.run(layer, x, dest, flat_slot, gate_w, tokens, out, rank_tokens);
}

void GpuMoeEngine::allreduce_max(float* values, int n) {
  Impl& im = *impl_;
  set_device(im.cfg.device);
  im.scratch.resize(size_t(std::max(n, 1)));
  GRACE_CUDA_CHECK(cudaMemcpyAsync(im.scratch.get(), values, size_t(n) * 4, cudaMemcpyHostToDevice, im.stream));
  GRACE_NCCL_CHECK(ncclAllReduce(im.scratch.get(), im.scratch.get(), size_t(n), ncclFloat32, ncclMax, im.world, im.stream));
  GRACE_CUDA_CHECK(cudaMemcpyAsync(values, im.scratch.get(), size_t(n) * 4, cudaMemcpyDeviceToHost, im.stream));
  GRACE_CUDA_CHECK(cudaStreamSynchronize(im.stream));
}

void GpuMoeEngine::barrier() {
  float v = 0;
  allreduce_max(&v, 1);
}

Stream GpuMoeEngine::stream() const { return impl_->stream; }
int GpuMoeEngine::num_local_slots() const { return impl_->layers.empty() ? 0 : impl_->layers[0].num_local; }

#else  // no NCCL

struct GpuMoeEngine::Impl {};
GpuMoeEngine::GpuMoeEngine(const NcclId&, const GpuEngineConfig&, const Placement&, const Topology&,
                           const RoutingTable&) {
  GRACE_CHECK(false, "GpuMoeEngine: this build has no NCCL (GRACE_HAVE_NCCL)");
}
GpuMoeEngine::~GpuMoeEngine() = default;
const std::vector<int>& GpuMoeEngine::local_experts(int) const {
  static const std::vector<int> none;
  return none;
}
void GpuMoeEngine::load_expert(int, int, const float*, const float*, const float*) {}
GpuLayerStats GpuMoeEngine::forward(int, const bf16_t*, const int32_t*, const float*, int64_t, int64_t, bf16_t*,
                                    const int64_t*, const int64_t*) {
  return {};
}
GpuLayerStats GpuMoeEngine::forward_routed(int, const bf16_t*, const int32_t*, const int32_t*, const float*, int64_t,
                                           bf16_t*, const int64_t*) {
  return {};
}
void GpuMoeEngine::allreduce_max(float*, int) {}
void GpuMoeEngine::barrier() {}
Stream GpuMoeEngine::stream() const { return nullptr; }
int GpuMoeEngine::num_local_slots() const { return 0; }

#endif

}  // namespace grace::cuda
