// Host routing of a whole batch, shared by the backends (grace/engine/backend.h).
#include <algorithm>

#include "grace/engine/backend.h"
#include "grace/engine/comm.h"
#include "grace/router.h"

namespace grace::engine {

void route_whole_batch(Router& router, const LayerWork& w, int top_k, const expert_t* ids, int64_t ids_stride,
                       std::vector<int>& dest) {
  RouteBatch rb;
  rb.layer = w.layer;
  rb.num_tokens = w.n;
  rb.top_k = top_k;
  rb.ids = ids;
  rb.ids_stride = ids_stride;
  rb.src_gpu = w.src;
  rb.token_index = w.token_index;
  dest.resize(size_t(std::max<int64_t>(w.n * top_k, 1)));
  router.route(rb, dest.data());
}

void gather_batch_choices(Comm& world, const LayerWork& w, int top_k, const int32_t* local_ids,
                          const float* local_w, std::vector<expert_t>& ids, std::vector<float>* weights) {
  const size_t all = size_t(w.n * top_k);
  std::vector<int64_t> all_ids(all, 0);
  for (int64_t i = 0; i < w.nl; ++i)
    for (int j = 0; j < top_k; ++j) all_ids[size_t(w.local[i] * top_k + j)] = local_ids[i * top_k + j];
  world.allreduce_sum(all_ids.data(), int(all));
  ids.assign(all_ids.begin(), all_ids.end());
  if (!weights) return;
  std::vector<double> all_w(all, 0.0);
  for (int64_t i = 0; i < w.nl; ++i)
    for (int j = 0; j < top_k; ++j) all_w[size_t(w.local[i] * top_k + j)] = local_w[i * top_k + j];
  world.allreduce_sum(all_w.data(), int(all));
  weights->assign(all_w.begin(), all_w.end());
}

}  // namespace grace::engine
