// Communication time of one exchange stage on one link tier, per GPU (see grace/simulate.h).
// Internal to the simulator; inputs are the evaluator's per-GPU copy counts.
#ifndef GRACE_SIM_COMM_MODEL_H_
#define GRACE_SIM_COMM_MODEL_H_

#include <cstdint>
#include <vector>

namespace grace {

struct Topology;

// Per GPU, microseconds of one intra-node stage moving send[g] / recv[g] copies of
// `copy_bytes` bytes each, divided by `chunks` (latency is paid whole by every chunk; the
// peers are the node's other gpus_per_node - 1 GPUs).
std::vector<double> intra_stage_us(const std::vector<int64_t>& send, const std::vector<int64_t>& recv,
                                   double copy_bytes, int chunks, const Topology& topo);

// Same for a cross-node stage: per-GPU link, and the node's shared NIC when node_nic_GBps > 0.
// `peers`: the remote GPUs each GPU exchanges with in this stage (inter.peer_latency_us each).
std::vector<double> inter_stage_us(const std::vector<int64_t>& send, const std::vector<int64_t>& recv,
                                   double copy_bytes, int chunks, int peers, const Topology& topo);

}  // namespace grace

#endif  // GRACE_SIM_COMM_MODEL_H_
