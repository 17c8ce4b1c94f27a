// GpuMoeEngine: the device-resident MoE layer over NCCL (contract in grace/cuda/gpu_engine.h).
//
// One Stage = one all-to-all over one communicator: unit keys -> stable bucket sort by peer
// (PairBuckets) -> host offsets + count exchange (the host round trip) -> scatter rows and
// metadata -> grouped ncclSend/ncclRecv. Its combine() sends partial rows back in received order
// and sums them per input row with combine_rows (weights 1; gate weights were applied by the
// expert GPU). flat = one world stage; hierarchical = world stage (per node) + node stage.
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
#endif

namespace grace::cuda {

void fill_expert_weights(int expert, uint64_t seed, int64_t hidden, int64_t inter, bf16_t* w13, bf16_t* w2,
                         Stream stream) {
  const uint64_t base = seed * 1000003ull + uint64_t(expert) * 2ull;
  fill_uniform_bf16(w13, 2 * inter * hidden, base, 1.0f / std::sqrt(float(hidden)), stream);
  fill_uniform_bf16(w2, hidden * inter, base + 1, 1.0f / std::sqrt(float(inter)), stream);
}

#ifdef GRACE_HAVE_NCCL

namespace {

struct Stage {
  ncclComm_t comm = nullptr;
  StagePeers sp;
  int size = 1, me = 0;
  std::vector<int> global_of;  // comm rank -> global GPU
  int64_t n = 0, units = 0, m = 0;
  std::vector<int64_t> send_cnt, send_off, recv_cnt, recv_off;
  PairBuckets buckets;
  DeviceBuffer<int32_t> keys, send_dest, send_slot, recv_dest, recv_slot;
  DeviceBuffer<float> send_w, recv_w, ones;
  DeviceBuffer<bf16_t> send_rows, recv_rows, ret_rows;
  DeviceBuffer<unsigned char> send_pack, recv_pack;  // wire rows: hidden + metadata
  DeviceBuffer<int64_t> counts;
  size_t ones_filled = 0;
};

}  // namespace

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
  Stage s1, s2;
  DeviceBuffer<bf16_t> partial, partial1;
  DeviceBuffer<int32_t> dest, slot, lkeys;
  DeviceBuffer<float> scratch;
  GpuLayerStats stats;

  Impl(const GpuEngineConfig& c, const RoutingTable& t) : cfg(c), table(t) {}

  int node_of(int g) const { return g / gpn; }

  void account(const Stage& st, const std::vector<int64_t>& cnt, int64_t row_bytes, bool combine = false) {
    for (int p = 0; p < st.size; ++p) {
      if (p == st.me || cnt[p] == 0) continue;
      const bool inter = node_of(st.global_of[p]) != my_node;
      (inter ? stats.rows_inter : stats.rows_intra) += cnt[p];
      (inter ? stats.bytes_inter : stats.bytes_intra) += cnt[p] * row_bytes;
      if (combine) {
        (inter ? stats.combine_rows_inter : stats.combine_rows_intra) += cnt[p];
        (inter ? stats.combine_bytes_inter : stats.combine_bytes_intra) += cnt[p] * row_bytes;
      }
    }
  }

  // rows [n][H] with pair metadata [n*k] -> st.recv_* (st.m units).
  void dispatch(Stage& st, const bf16_t* rows, int64_t n, const int32_t* d, const int32_t* sl, const float* w) {
    const int k = cfg.top_k;
    const int64_t H = cfg.hidden;
    st.n = n;
    st.keys.resize(size_t(std::max<int64_t>(n * k, 1)));
    unit_keys(d, n, k, st.sp, st.keys.get(), stream);
    st.buckets.build(st.keys.get(), n * k, st.size, stream);
    // Send counts straight from the bucket offsets on the device, exchanged before the rows are
    // scattered; then one host round trip brings back both offsets and received counts.
    st.counts.resize(size_t(2) * st.size);
    counts_from_offsets(st.buckets.offsets(), st.size, st.counts.get(), stream);
    if (st.size > 1) {
      GRACE_NCCL_CHECK(ncclGroupStart());
      for (int p = 0; p < st.size; ++p) {
        GRACE_NCCL_CHECK(ncclSend(st.counts.get() + p, 1, ncclInt64, p, st.comm, stream));
        GRACE_NCCL_CHECK(ncclRecv(st.counts.get() + st.size + p, 1, ncclInt64, p, st.comm, stream));
      }
      GRACE_NCCL_CHECK(ncclGroupEnd());
    }
    const size_t ucap = size_t(std::max<int64_t>(n * k, 1));  // units <= pairs
    st.send_rows.resize(ucap * H);
    st.send_dest.resize(ucap * k);
    st.send_slot.resize(ucap * k);
    st.send_w.resize(ucap * k);
    scatter_rows(rows, st.buckets.position(), st.buckets.offsets() + st.size, n, k, H, st.send_rows.get(), stream);
    unit_meta(d, sl, w, st.keys.get(), st.buckets.position(), n, k, st.sp, st.send_dest.get(), st.send_slot.get(),
              st.send_w.get(), stream);
    std::vector<int32_t> off(st.size + 1);
    st.recv_cnt.assign(st.size, 0);
    GRACE_CUDA_CHECK(cudaMemcpyAsync(off.data(), st.buckets.offsets(), (st.size + 1) * 4, cudaMemcpyDeviceToHost, stream));
    if (st.size > 1)
      GRACE_CUDA_CHECK(cudaMemcpyAsync(st.recv_cnt.data(), st.counts.get() + st.size, st.size * 8,
                                       cudaMemcpyDeviceToHost, stream));
    GRACE_CUDA_CHECK(cudaStreamSynchronize(stream));
    st.units = off[st.size];
    st.send_cnt.assign(st.size, 0);
    st.send_off.assign(st.size + 1, 0);
    for (int p = 0; p < st.size; ++p) {
      st.send_cnt[p] = off[p + 1] - off[p];
      st.send_off[p] = off[p];
    }
    st.send_off[st.size] = off[st.size];
    if (st.size == 1) st.recv_cnt = st.send_cnt;
    st.recv_off.assign(st.size + 1, 0);
    for (int p = 0; p < st.size; ++p) st.recv_off[p + 1] = st.recv_off[p] + st.recv_cnt[p];
    st.m = st.recv_off[st.size];
    const size_t mm = size_t(std::max<int64_t>(st.m, 1));
    st.recv_rows.resize(mm * H);
    st.recv_dest.resize(mm * k);
    st.recv_slot.resize(mm * k);
    st.recv_w.resize(mm * k);
    if (st.size == 1) {  // a one-GPU communicator (hierarchical, 1 GPU per node): device copies
      if (const int64_t c = st.send_cnt[0]; c > 0) {
        GRACE_CUDA_CHECK(cudaMemcpyAsync(st.recv_rows.get(), st.send_rows.get(), size_t(c * H) * 2, cudaMemcpyDeviceToDevice, stream));
        GRACE_CUDA_CHECK(cudaMemcpyAsync(st.recv_dest.get(), st.send_dest.get(), size_t(c * k) * 4, cudaMemcpyDeviceToDevice, stream));
        GRACE_CUDA_CHECK(cudaMemcpyAsync(st.recv_slot.get(), st.send_slot.get(), size_t(c * k) * 4, cudaMemcpyDeviceToDevice, stream));
        GRACE_CUDA_CHECK(cudaMemcpyAsync(st.recv_w.get(), st.send_w.get(), size_t(c * k) * 4, cudaMemcpyDeviceToDevice, stream));
      }
      return;
    }
    // One wire row per unit: the BF16 hidden state, then the k destination GPUs, flat slots and
    // gate weights, packed by strided device copies, so each peer gets one NCCL send (over a
    // socket transport every operation costs a fixed latency of its own).
    const size_t rb = size_t(H) * 2 + size_t(k) * 12, hb = size_t(H) * 2, kb = size_t(k) * 4;
    st.send_pack.resize(std::max<size_t>(size_t(st.units), 1) * rb);
    st.recv_pack.resize(mm * rb);
    if (st.units > 0) {
      unsigned char* sp = st.send_pack.get();
      GRACE_CUDA_CHECK(cudaMemcpy2DAsync(sp, rb, st.send_rows.get(), hb, hb, size_t(st.units), cudaMemcpyDeviceToDevice, stream));
      GRACE_CUDA_CHECK(cudaMemcpy2DAsync(sp + hb, rb, st.send_dest.get(), kb, kb, size_t(st.units), cudaMemcpyDeviceToDevice, stream));
      GRACE_CUDA_CHECK(cudaMemcpy2DAsync(sp + hb + kb, rb, st.send_slot.get(), kb, kb, size_t(st.units), cudaMemcpyDeviceToDevice, stream));
      GRACE_CUDA_CHECK(cudaMemcpy2DAsync(sp + hb + 2 * kb, rb, st.send_w.get(), kb, kb, size_t(st.units), cudaMemcpyDeviceToDevice, stream));
    }
    GRACE_NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < st.size; ++p) {
      if (const int64_t c = st.send_cnt[p]; c > 0)
        GRACE_NCCL_CHECK(ncclSend(st.send_pack.get() + size_t(st.send_off[p]) * rb, size_t(c) * rb, ncclInt8, p, st.comm, stream));
      if (const int64_t c = st.recv_cnt[p]; c > 0)
        GRACE_NCCL_CHECK(ncclRecv(st.recv_pack.get() + size_t(st.recv_off[p]) * rb, size_t(c) * rb, ncclInt8, p, st.comm, stream));
    }
    GRACE_NCCL_CHECK(ncclGroupEnd());
    if (st.m > 0) {
      const unsigned char* rp = st.recv_pack.get();
      GRACE_CUDA_CHECK(cudaMemcpy2DAsync(st.recv_rows.get(), hb, rp, rb, hb, size_t(st.m), cudaMemcpyDeviceToDevice, stream));
      GRACE_CUDA_CHECK(cudaMemcpy2DAsync(st.recv_dest.get(), kb, rp + hb, rb, kb, size_t(st.m), cudaMemcpyDeviceToDevice, stream));
      GRACE_CUDA_CHECK(cudaMemcpy2DAsync(st.recv_slot.get(), kb, rp + hb + kb, rb, kb, size_t(st.m), cudaMemcpyDeviceToDevice, stream));
      GRACE_CUDA_CHECK(cudaMemcpy2DAsync(st.recv_w.get(), kb, rp + hb + 2 * kb, rb, kb, size_t(st.m), cudaMemcpyDeviceToDevice, stream));
    }
    account(st, st.send_cnt, H * 2 + int64_t(k) * 12);
  }

  // partial [st.m][H] in received order -> out [st.n][H] (sum over the units of each row).
  void combine(Stage& st, const bf16_t* partial_rows, bf16_t* out) {
    const int k = cfg.top_k;
    const int64_t H = cfg.hidden;
    st.ret_rows.resize(size_t(std::max<int64_t>(st.units, 1)) * H);
    if (st.size == 1) {
      if (st.units > 0)
        GRACE_CUDA_CHECK(cudaMemcpyAsync(st.ret_rows.get(), partial_rows, size_t(st.units * H) * 2,
                                         cudaMemcpyDeviceToDevice, stream));
    } else {
      GRACE_NCCL_CHECK(ncclGroupStart());
      for (int p = 0; p < st.size; ++p) {
        if (const int64_t c = st.recv_cnt[p]; c > 0)
          GRACE_NCCL_CHECK(ncclSend(partial_rows + st.recv_off[p] * H, size_t(c * H) * 2, ncclInt8, p, st.comm, stream));
        if (const int64_t c = st.send_cnt[p]; c > 0)
          GRACE_NCCL_CHECK(ncclRecv(st.ret_rows.get() + st.send_off[p] * H, size_t(c * H) * 2, ncclInt8, p, st.comm, stream));
      }
      GRACE_NCCL_CHECK(ncclGroupEnd());
    }
    account(st, st.recv_cnt, H * 2, /*combine=*/true);
    if (st.n == 0) return;
    const size_t pairs = size_t(st.n) * k;
    if (st.ones_filled < pairs) {
      st.ones.resize(pairs);
      fill_f32(st.ones.get(), int64_t(pairs), 1.0f, stream);
      st.ones_filled = pairs;
    }
    combine_rows(st.ret_rows.get(), st.buckets.position(), st.ones.get(), st.buckets.offsets() + st.size, st.n, k, H,
                 out, stream);
  }

  // The expert GPU: units [st.m] with metadata -> gate-weighted partial sums [st.m][H].
  void compute(Stage& st, bf16_t* out_partial) {
    const int64_t m = st.m;
    if (m == 0) return;
    lkeys.resize(size_t(m) * cfg.top_k);
    local_keys(st.recv_dest.get(), st.recv_slot.get(), m * cfg.top_k, cfg.rank, slot_base, num_local, lkeys.get(),
               stream);
    if (num_local == 0) {
      GRACE_CUDA_CHECK(cudaMemsetAsync(out_partial, 0, size_t(m) * cfg.hidden * 2, stream));
      return;
    }
    cur->moe->forward(st.recv_rows.get(), lkeys.get(), st.recv_w.get(), m, cur->w13.get(), cur->w2.get(), out_partial,
                      stream);
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
  im.s1.comm = im.world;
  im.s1.size = cfg.size;
  im.s1.me = cfg.rank;
  for (int g = 0; g < cfg.size; ++g) im.s1.global_of.push_back(g);
  im.s1.sp = StagePeers{cfg.hierarchical ? StageMap::kNode : StageMap::kFlat, im.gpn, cfg.rank % im.gpn, cfg.size};
  if (cfg.hierarchical) {
    GRACE_NCCL_CHECK(ncclCommSplit(im.world, im.my_node, cfg.rank % im.gpn, &im.node, nullptr));
    im.s2.comm = im.node;
    im.s2.size = im.gpn;
    im.s2.me = cfg.rank % im.gpn;
    for (int l = 0; l < im.gpn; ++l) im.s2.global_of.push_back(im.my_node * im.gpn + l);
    im.s2.sp = StagePeers{StageMap::kLocal, im.gpn, cfg.rank % im.gpn, im.gpn};
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
                                    int64_t tokens, int64_t token_base, bf16_t* out, const int64_t* token_index) {
  Impl& im = *impl_;
  const auto& c = im.cfg;
  set_device(c.device);
  GRACE_CHECK(layer >= 0 && layer < c.num_layers, "GpuMoeEngine::forward: layer {} of {}", layer, c.num_layers);
  im.cur = &im.layers[size_t(layer)];
  im.num_local = im.cur->num_local;
  im.slot_base = im.cur->slot_base;
  im.stats = GpuLayerStats{};
  const int64_t H = c.hidden;
  const size_t pairs = size_t(std::max<int64_t>(tokens * c.top_k, 1));
  im.dest.resize(pairs);
  im.slot.resize(pairs);
  GRACE_CUDA_CHECK(cudaEventRecord(im.ev[0], im.stream));
  DeviceRouteBatch rb;
  rb.layer = layer;
  rb.num_tokens = tokens;
  rb.top_k = c.top_k;
  rb.ids = ids;
  rb.src_gpu_all = c.rank;
  rb.token_base = token_base;
  rb.token_index = token_index;
  if (tokens > 0) route_on_device(im.table, c.router, c.route_seed, rb, im.dest.get(), im.slot.get(), im.stream);
  im.dispatch(im.s1, x, tokens, im.dest.get(), im.slot.get(), gate_w);
  Stage& last = c.hierarchical ? im.s2 : im.s1;
  if (c.hierarchical)
    im.dispatch(im.s2, im.s1.recv_rows.get(), im.s1.m, im.s1.recv_dest.get(), im.s1.recv_slot.get(),
                im.s1.recv_w.get());
  GRACE_CUDA_CHECK(cudaEventRecord(im.ev[1], im.stream));
  im.partial.resize(size_t(std::max<int64_t>(last.m, 1)) * H);
  im.compute(last, im.partial.get());
  GRACE_CUDA_CHECK(cudaEventRecord(im.ev[2], im.stream));
  if (c.hierarchical) {
    im.partial1.resize(size_t(std::max<int64_t>(im.s1.m, 1)) * H);
    im.combine(im.s2, im.partial.get(), im.partial1.get());
    im.combine(im.s1, im.partial1.get(), out);
  } else {
    im.combine(im.s1, im.partial.get(), out);
  }
  if (tokens > 0) add_residual(x, tokens * H, out, im.stream);
  GRACE_CUDA_CHECK(cudaEventRecord(im.ev[3], im.stream));
  GRACE_CUDA_CHECK(cudaEventSynchronize(im.ev[3]));
  GRACE_CUDA_CHECK(cudaEventElapsedTime(&im.stats.dispatch_ms, im.ev[0], im.ev[1]));
  GRACE_CUDA_CHECK(cudaEventElapsedTime(&im.stats.compute_ms, im.ev[1], im.ev[2]));
  GRACE_CUDA_CHECK(cudaEventElapsedTime(&im.stats.combine_ms, im.ev[2], im.ev[3]));
  if (last.m > 0 && im.num_local > 0) im.stats.expert_rows = im.cur->moe->buckets().host_offsets(im.stream)[im.num_local];
  return im.stats;
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
                                    const int64_t*) {
  return {};
}
void GpuMoeEngine::allreduce_max(float*, int) {}
void GpuMoeEngine::barrier() {}
Stream GpuMoeEngine::stream() const { return nullptr; }
int GpuMoeEngine::num_local_slots() const { return 0; }

#endif

}  // namespace grace::cuda
