// CudaCompute: engine::ComputeBackend on one GPU (contract in grace/cuda/compute_backend.h).
#include "grace/cuda/compute_backend.h"

#include <cuda_runtime.h>

#include <map>
#include <utility>
#include <vector>

#include "cuda/cuda_check.h"
#include "grace/cuda/device.h"
#include "grace/cuda/expert_ffn.h"
#include "grace/cuda/permute.h"
#include "grace/error.h"

namespace grace::cuda {
namespace {

class CudaCompute final : public engine::ComputeBackend {
 public:
  explicit CudaCompute(int device) : device_(device) { set_device(device); }

  std::string_view name() const override { return "cuda"; }

  void configure(int64_t hidden, int64_t intermediate) override {
    GRACE_CHECK(hidden > 0 && intermediate > 0, "bad FFN shape {}x{}", hidden, intermediate);
    GRACE_CHECK(hidden % 8 == 0 && intermediate % 8 == 0,
                "the CUDA backend needs hidden ({}) and intermediate ({}) multiples of 8", hidden, intermediate);
    hidden_ = hidden;
    inter_ = intermediate;
    ffn_ = std::make_unique<ExpertFfn>(hidden, intermediate, GemmPath::kAuto);
  }

  void load_expert(int layer, int expert, const engine::ExpertWeightsView& w) override {
    GRACE_CHECK(ffn_, "configure() must come before load_expert()");
    set_device(device_);
    const size_t HI = size_t(hidden_) * inter_;
    std::vector<bf16_t> w13(2 * HI), w2(HI);
    for (size_t i = 0; i < HI; ++i) {
      w13[i] = float_to_bf16(w.gate[i]);
      w13[HI + i] = float_to_bf16(w.up[i]);
      w2[i] = float_to_bf16(w.down[i]);
    }
    Expert& e = experts_[{layer, expert}];
    e.w13.upload(w13.data(), w13.size());
    e.w2.upload(w2.data(), w2.size());
  }

  bool has_expert(int layer, int expert) const override { return experts_.count({layer, expert}) > 0; }

  void run(int layer, const engine::ExpertTask* tasks, int n) override {
    set_device(device_);
    const int64_t H = hidden_;
    std::vector<int32_t> off(size_t(n) + 1, 0);
    std::vector<const bf16_t*> w13(n), w2(n);
    for (int i = 0; i < n; ++i) {
      auto it = experts_.find({layer, tasks[i].expert});
      GRACE_CHECK(it != experts_.end(), "layer {} expert {} was not loaded", layer, tasks[i].expert);
      w13[i] = it->second.w13.get();
      w2[i] = it->second.w2.get();
      off[i + 1] = off[i] + int32_t(tasks[i].rows);
    }
    const int64_t rows = off[n];
    if (rows == 0) return;
    in_f32_.resize(rows * H);
    x_.resize(rows * H);
    y_.resize(rows * H);
    for (int i = 0; i < n; ++i)
      copy_to_device(in_f32_.get() + size_t(off[i]) * H, tasks[i].in, size_t(tasks[i].rows) * H * 4);
    to_bf16(in_f32_.get(), rows * H, x_.get());
    ffn_->run_experts(x_.get(), off.data(), n, w13.data(), w2.data(), y_.get());
    to_f32(y_.get(), rows * H, in_f32_.get());
    for (int i = 0; i < n; ++i)
      copy_to_host(tasks[i].out, in_f32_.get() + size_t(off[i]) * H, size_t(tasks[i].rows) * H * 4);
  }

  size_t memory_bytes() const override { return experts_.size() * size_t(3) * hidden_ * inter_ * 2; }

 private:
  struct Expert {
    DeviceBuffer<bf16_t> w13, w2;
  };
  int device_;
  int64_t hidden_ = 0, inter_ = 0;
  std::unique_ptr<ExpertFfn> ffn_;
  std::map<std::pair<int, int>, Expert> experts_;
  DeviceBuffer<float> in_f32_;
  DeviceBuffer<bf16_t> x_, y_;
};

}  // namespace

std::unique_ptr<engine::ComputeBackend> make_cuda_compute(int device) {
  GRACE_CHECK(device >= 0 && device < device_count(), "CUDA device {} not present ({} visible)", device, device_count());
  return std::make_unique<CudaCompute>(device);
}

}  // namespace grace::cuda
