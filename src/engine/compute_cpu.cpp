// The CPU compute backend: SwiGLU expert FFNs in F32 with OpenBLAS cblas_sgemm
// (contract in grace/engine/compute.h). Weights are kept per (layer, expert) in one map.
#include <cblas.h>

#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "grace/engine/compute.h"
#include "grace/error.h"

namespace grace::engine {
namespace {

class CpuCompute : public ComputeBackend {
 public:
  std::string_view name() const override { return "cpu"; }

  void configure(int64_t hidden, int64_t intermediate) override {
    GRACE_CHECK(hidden > 0 && intermediate > 0, "bad dims {}x{}", hidden, intermediate);
    hidden_ = hidden;
    inter_ = intermediate;
    experts_.clear();
  }

  void load_expert(int layer, int expert, const ExpertWeightsView& w) override {
    GRACE_CHECK(hidden_ > 0, "configure() must come before load_expert()");
    const size_t n = size_t(hidden_) * size_t(inter_);
    Weights& dst = experts_[{layer, expert}];
    dst.gate.assign(w.gate, w.gate + n);
    dst.up.assign(w.up, w.up + n);
    dst.down.assign(w.down, w.down + n);
  }

  bool has_expert(int layer, int expert) const override { return experts_.count({layer, expert}) != 0; }

  void run(int layer, const ExpertTask* tasks, int num_tasks) override {
    for (int i = 0; i < num_tasks; ++i) run_one(layer, tasks[i]);
  }

  size_t memory_bytes() const override {
    return experts_.size() * 3 * size_t(hidden_) * size_t(inter_) * sizeof(float);
  }

 private:
  struct Weights {
    std::vector<float> gate, up, down;
  };

  void run_one(int layer, const ExpertTask& t) {
    if (t.rows == 0) return;
    auto it = experts_.find({layer, t.expert});
    GRACE_CHECK(it != experts_.end(), "layer {} expert {} is not loaded on this rank", layer, t.expert);
    const Weights& w = it->second;
    const int m = int(t.rows), h = int(hidden_), n = int(inter_);
    g_.resize(size_t(m) * n);
    u_.resize(size_t(m) * n);
    // G = X W_g^T, U = X W_u^T   ([m][h] x [n][h]^T -> [m][n])
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, h, 1.0f, t.in, h, w.gate.data(), h, 0.0f, g_.data(), n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, h, 1.0f, t.in, h, w.up.data(), h, 0.0f, u_.data(), n);
    for (size_t i = 0; i < g_.size(); ++i) {
      const float z = g_[i];
      g_[i] = z / (1.0f + std::exp(-z)) * u_[i];
    }
    // Y = A W_d^T   ([m][n] x [h][n]^T -> [m][h])
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, h, n, 1.0f, g_.data(), n, w.down.data(), n, 0.0f, t.out, h);
  }

  int64_t hidden_ = 0, inter_ = 0;
  std::map<std::pair<int, int>, Weights> experts_;
  std::vector<float> g_, u_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_cpu_compute() { return std::make_unique<CpuCompute>(); }

}  // namespace grace::engine
