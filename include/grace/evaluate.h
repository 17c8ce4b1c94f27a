// Trace-replay evaluation: replays a routing trace through a placement and a router, batch by
// batch and layer by layer, and counts what each GPU computes and what crosses each link tier.
// The simulator (simulate.h) turns these counts into time.
//
// Setup: each sequence is pinned to a source GPU (the one with the fewest tokens so far, as
// data-parallel attention does), and the tokens are cut into batches (Batching below).
// Counting is in token copies; bytes = copies x ModelSpec::token_bytes(). Combine moves the same
// number of copies back as dispatch, so the figures below are per direction.
//
//   flat:          one copy per (token, destination GPU != source GPU); it is intra-node when
//                  the destination shares the source's node, else inter-node.
//   hierarchical:  one inter-node copy per (token, destination node != source node), sent to
//                  the GPU of the same local rank there; then one intra-node copy per (token,
//                  destination GPU) inside each node, from whichever GPU holds the token there.
#ifndef GRACE_EVALUATE_H_
#define GRACE_EVALUATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "grace/batching.h"
#include "grace/comm_scheme.h"
#include "grace/trace.h"

namespace grace {

struct Placement;
struct Topology;
struct ModelSpec;
class TraceReader;

struct EvalOptions {
  int64_t batch_tokens = 4096;
  Batching batching = Batching::kTrace;
  CommScheme comm = CommScheme::kHierarchical;
  std::string router = "tar";
  uint64_t seed = 0;
  bool keep_records = true;  // keep per-(batch, layer) records (the simulator needs them)
};

// What happened at one layer of one batch.
struct LayerBatchRecord {
  int64_t batch = 0;
  int layer = 0;
  int64_t tokens = 0;
  // Per GPU: token-expert pairs computed, and per hosted expert instance the tokens it got
  // (same order as Placement::gpu_slots(layer); zeros included).
  std::vector<int64_t> gpu_pairs;                       // [G]
  std::vector<std::vector<int32_t>> gpu_expert_tokens;  // [G][slots of that GPU]
  // Per GPU, dispatch copies sent and received on each tier (combine mirrors these).
  std::vector<int64_t> send_intra, recv_intra;  // [G]
  std::vector<int64_t> send_inter, recv_inter;  // [G]
  // Where the pairs were served, relative to the token's source GPU.
  int64_t pairs_same_gpu = 0, pairs_same_node = 0, pairs_remote = 0;
  // The busiest node NIC: max over nodes of the larger of the cross-node copies its GPUs send
  // and receive (dispatch; full duplex, so the busier direction paces the node).
  int64_t nic_busiest = 0;
};

// Sums over batches, per layer or in total.
struct EvalTotals {
  int64_t tokens = 0;              // tokens x layers counted
  int64_t pairs = 0;               // token-expert pairs
  int64_t intra_copies = 0;        // dispatch copies inside nodes
  int64_t inter_copies = 0;        // dispatch copies across nodes
  int64_t nic_busiest_copies = 0;  // sum over (batch, layer) of LayerBatchRecord::nic_busiest
  int64_t pairs_same_gpu = 0, pairs_same_node = 0, pairs_remote = 0;
  double load_max_mean_sum = 0;  // sum over (batch, layer) of max/mean GPU pairs
  double load_std_sum = 0;       // sum over (batch, layer) of stddev/mean of GPU pairs
  int64_t samples = 0;           // (batch, layer) records summed
};

struct EvalResult {
  std::string router;
  CommScheme comm = CommScheme::kFlat;
  int64_t batch_tokens = 0;
  Batching batching = Batching::kTrace;
  int64_t num_batches = 0;
  int64_t token_bytes = 0;  // bytes of one hidden-state copy
  int num_layers = 0;
  int num_gpus = 0;
  int num_nodes = 0;
  std::vector<EvalTotals> per_layer;  // [num_layers]
  EvalTotals total;
  std::vector<LayerBatchRecord> records;  // [batch][layer] when keep_records

  // Per token (of the trace, summed over layers), per direction: dispatch bytes.
  double inter_bytes_per_token() const;
  double intra_bytes_per_token() const;
  // Busiest node NIC over the mean node NIC (cross-node copies, the busier direction; >= 1 when
  // anything crosses, 0 when nothing does): the NIC that paces a layer.
  static double nic_max_mean(const EvalTotals& t, int num_nodes);
};

// Replays an in-memory trace. The trace's experts must match the placement's.
EvalResult evaluate(const Trace& trace, const Placement& placement, const Topology& topo, const ModelSpec& model,
                    const EvalOptions& options);
// Same, streaming the reader from its current position (bounded memory when !keep_records).
EvalResult evaluate(TraceReader& reader, const Placement& placement, const Topology& topo, const ModelSpec& model,
                    const EvalOptions& options);

// Human-readable report and JSON (for `grace evaluate [--json]`).
std::string format_eval(const EvalResult& r);
std::string eval_json(const EvalResult& r);

}  // namespace grace

#endif  // GRACE_EVALUATE_H_
