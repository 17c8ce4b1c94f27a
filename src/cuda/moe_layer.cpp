// LocalMoeLayer: bucket -> gather -> expert FFN -> combine (contract in grace/cuda/moe_layer.h).
#include "grace/cuda/moe_layer.h"

#include <memory>

#include "grace/error.h"

namespace grace::cuda {

LocalMoeLayer::LocalMoeLayer(int num_experts, int top_k, int64_t hidden, int64_t inter, GemmPath path)
    : num_experts_(num_experts), top_k_(top_k), hidden_(hidden), ffn_(hidden, inter, path) {
  GRACE_CHECK(num_experts > 0 && top_k > 0, "bad MoE layer shape: {} experts, top {}", num_experts, top_k);
}

LocalMoeLayer::~LocalMoeLayer() = default;

void LocalMoeLayer::forward(const bf16_t* x, const int32_t* keys, const float* weights,
                            int64_t tokens, const bf16_t* w13, const bf16_t* w2, bf16_t* out,
                            Stream stream, MoeLayerTimes* times) {
  const int64_t pairs = tokens * top_k_;
  std::unique_ptr<Timer> timer;
  if (times) {
    timer = std::make_unique<Timer>(stream);
    timer->start();
  }
  // Bucket + scatter in two launches, rows sized for every pair (no host round trip here); on
  // the wgmma path with gathered input (WgmmaInput::kGather) the bucketing alone: the gate/up
  // GEMM reads its rows from x through the bucket order.
  const int64_t cap = pairs > 0 ? pairs : 1;
  const bool device = ffn_.uses_device_offsets(num_experts_);
  const bool gather = device && wgmma_input() == WgmmaInput::kGather;
  if (!gather) xs_.resize(size_t(cap) * hidden_);
  ys_.resize(size_t(cap) * hidden_);
  buckets_.build_scatter(keys, tokens, top_k_, num_experts_, x, hidden_, gather ? nullptr : xs_.get(), stream);
  if (times) {
    times->permute_ms = timer->stop();
    timer->start();
  }
  if (device) {
    // No host round trip: the GEMMs read the offsets on the device.
    if (gather)
      ffn_.run_device_gather(x, buckets_.order(), top_k_, pairs, buckets_.offsets(), num_experts_, w13, w2,
                             ys_.get(), stream);
    else
      ffn_.run_device(xs_.get(), pairs, buckets_.offsets(), num_experts_, w13, w2, ys_.get(), stream);
    if (times) {
      times->ffn_ms = timer->stop();
      timer->start();
    }
    combine_rows_after_ffn(ys_.get(), buckets_.position(), weights, buckets_.offsets() + num_experts_, tokens,
                           top_k_, hidden_, out, stream);
    if (times) times->combine_ms = timer->stop();
    return;
  }
  const std::vector<int32_t> off = buckets_.host_offsets(stream);
  ffn_.run(xs_.get(), off.data(), num_experts_, w13, w2, ys_.get(), stream);
  if (times) {
    times->ffn_ms = timer->stop();
    timer->start();
  }
  combine_rows(ys_.get(), buckets_.position(), weights, buckets_.offsets() + num_experts_, tokens,
               top_k_, hidden_, out, stream);
  if (times) times->combine_ms = timer->stop();
}

}  // namespace grace::cuda
