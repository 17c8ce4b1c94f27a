// The expert step of one MoE layer on one rank: the rows this rank received carry routing
// entries for experts it hosts; group the (row, entry) pairs by expert, run every expert once
// on its packed rows (ComputeBackend::run), and write per row the gate-weighted sum of its
// entries' expert outputs. Also the gate-weight convention shared with the reference.
#ifndef GRACE_ENGINE_LAYER_COMPUTE_H_
#define GRACE_ENGINE_LAYER_COMPUTE_H_

#include <cstdint>
#include <vector>

#include "engine/exchange.h"
#include "grace/engine/compute.h"
#include "grace/trace.h"

namespace grace::engine {

struct LayerComputeScratch {
  std::vector<float> in, out;
  std::vector<int64_t> pair_row;
  std::vector<float> pair_weight;
};

// results[n_rows][hidden] = sum over entries (expert e, weight w) of the row: w * FFN_e(x).
// Entries must be for `my_gpu`. Returns the number of (row, expert) pairs computed.
int64_t compute_partials(ComputeBackend& compute, int layer, int num_experts, const RowFormat& f, const char* rows,
                         int64_t n_rows, int my_gpu, float* results, LayerComputeScratch& scratch);

// Gate weight of token t's j-th expert at layer l: the trace's, or 1/k when it has none.
inline float gate_weight(const Trace& tr, int64_t t, int layer, int j) {
  return tr.has_weights() ? tr.topk_weights(t, layer)[j] : 1.0f / float(tr.top_k);
}

}  // namespace grace::engine

#endif  // GRACE_ENGINE_LAYER_COMPUTE_H_
