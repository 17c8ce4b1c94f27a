// One MoE layer's routed experts on one GPU that hosts every expert it is given work for:
// bucket the (token, expert) pairs by local expert, gather rows, grouped expert FFN, weighted
// combine. The building block of the CUDA engine path and of bench/cuda.
//
// forward(): x [tokens][hidden] bf16, keys [tokens][top_k] local expert index of each pair
// (num_experts = skip), weights [tokens][top_k] f32 gate weights, weights as in expert_ffn.h;
// out [tokens][hidden] = sum_j weight * FFN_key(x). One host synchronisation (bucket counts),
// none when the FFN takes the wgmma path (kWgmma, or the default kAuto, on an sm_90 GPU with a
// supported shape: ExpertFfn::uses_device_offsets): then forward() is
// capturable in a CUDA graph (with times == nullptr).
#ifndef GRACE_CUDA_MOE_LAYER_H_
#define GRACE_CUDA_MOE_LAYER_H_

#include <cstdint>

#include "grace/cuda/device.h"
#include "grace/cuda/expert_ffn.h"
#include "grace/cuda/permute.h"

namespace grace::cuda {

struct MoeLayerTimes {
  float permute_ms = 0;  // bucket sort + row gather
  float ffn_ms = 0;      // grouped GEMMs + SwiGLU
  float combine_ms = 0;  // weighted gather back
};

class LocalMoeLayer {
 public:
  LocalMoeLayer(int num_experts, int top_k, int64_t hidden, int64_t inter,
                GemmPath path = GemmPath::kAuto);
  ~LocalMoeLayer();

  // times: when not null, each stage is timed with events (adds synchronisation).
  void forward(const bf16_t* x, const int32_t* keys, const float* weights, int64_t tokens,
               const bf16_t* w13, const bf16_t* w2, bf16_t* out, Stream stream = nullptr,
               MoeLayerTimes* times = nullptr);

  const PairBuckets& buckets() const { return buckets_; }
  ExpertFfn& ffn() { return ffn_; }

 private:
  int num_experts_, top_k_;
  int64_t hidden_;
  PairBuckets buckets_;
  ExpertFfn ffn_;
  DeviceBuffer<bf16_t> xs_, ys_;
};

}  // namespace grace::cuda

#endif  // GRACE_CUDA_MOE_LAYER_H_
