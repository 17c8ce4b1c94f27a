// Grouping received rows by expert and running the expert FFNs (see layer_compute.h).
#include "engine/layer_compute.h"

#include <algorithm>
#include <cstring>

#include "engine/buffer_layout.h"
#include "grace/error.h"

namespace grace::engine {

int64_t compute_partials(ComputeBackend& compute, int layer, int num_experts, const RowFormat& f, const char* rows,
                         int64_t n_rows, int my_gpu, float* results, LayerComputeScratch& s) {
  const size_t rb = f.bytes();
  const int64_t H = f.hidden;
  std::vector<int64_t> per_expert(size_t(num_experts), 0);
  for (int64_t r = 0; r < n_rows; ++r) {
    const RouteEntry* e = f.entries_of(rows + size_t(r) * rb);
    for (int j = 0; j < f.top_k; ++j) {
      if (e[j].expert < 0) continue;
      GRACE_CHECK(e[j].gpu == my_gpu && e[j].expert < num_experts, "row for gpu {} expert {} reached gpu {}", e[j].gpu,
                  e[j].expert, my_gpu);
      ++per_expert[size_t(e[j].expert)];
    }
  }
  const BufferLayout layout(per_expert);  // packed input/output rows per expert
  const int64_t pairs = layout.total_rows;
  s.in.resize(size_t(pairs * H));
  s.out.resize(size_t(pairs * H));
  s.pair_row.resize(size_t(pairs));
  s.pair_weight.resize(size_t(pairs));
  std::vector<int64_t> cursor = layout.offsets;
  for (int64_t r = 0; r < n_rows; ++r) {
    const char* row = rows + size_t(r) * rb;
    const RouteEntry* e = f.entries_of(row);
    for (int j = 0; j < f.top_k; ++j) {
      if (e[j].expert < 0) continue;
      const int64_t p = cursor[size_t(e[j].expert)]++;
      std::memcpy(&s.in[size_t(p * H)], f.hidden_of(row), size_t(H) * sizeof(float));
      s.pair_row[size_t(p)] = r;
      s.pair_weight[size_t(p)] = e[j].weight;
    }
  }
  std::vector<ExpertTask> tasks;
  for (int e = 0; e < num_experts; ++e) {
    if (layout.counts[size_t(e)] == 0) continue;
    const size_t off = size_t(layout.offsets[size_t(e)] * H);
    tasks.push_back({e, layout.counts[size_t(e)], s.in.data() + off, s.out.data() + off});
  }
  compute.run(layer, tasks.data(), int(tasks.size()));
  std::fill(results, results + size_t(n_rows * H), 0.0f);
  for (int64_t p = 0; p < pairs; ++p) {
    float* dst = results + size_t(s.pair_row[size_t(p)] * H);
    const float* y = &s.out[size_t(p * H)];
    const float w = s.pair_weight[size_t(p)];
    for (int64_t h = 0; h < H; ++h) dst[h] += w * y[h];
  }
  return pairs;
}

}  // namespace grace::engine
