// Alpha-beta link model per tier, with the shared-NIC term for cross-node stages.
#include "sim/comm_model.h"

#include <algorithm>

#include "grace/error.h"
#include "grace/topology.h"

namespace grace {
namespace {

// bytes / (GB/s x 1e9) seconds = bytes / (GB/s x 1e3) microseconds.
double transfer_us(double bytes, double GBps) { return bytes / (GBps * 1e3); }

}  // namespace

std::vector<double> intra_stage_us(const std::vector<int64_t>& send, const std::vector<int64_t>& recv,
                                   double copy_bytes, int chunks, const Topology& topo) {
  const int G = topo.num_gpus();
  GRACE_CHECK(int(send.size()) == G && int(recv.size()) == G, "intra counts for {} GPUs, topology has {}", send.size(),
              G);
  std::vector<double> t(G, 0.0);
  const double fixed_us = topo.intra.latency_us + double(topo.gpus_per_node - 1) * topo.intra.peer_latency_us;
  for (int g = 0; g < G; ++g) {
    int64_t copies = std::max(send[g], recv[g]);
    if (copies == 0) continue;
    t[g] = fixed_us + transfer_us(double(copies) * copy_bytes / chunks, topo.intra.bandwidth_GBps);
  }
  return t;
}

std::vector<double> inter_stage_us(const std::vector<int64_t>& send, const std::vector<int64_t>& recv,
                                   double copy_bytes, int chunks, int peers, const Topology& topo) {
  const int G = topo.num_gpus();
  const double fixed_us = topo.inter.latency_us + double(peers) * topo.inter.peer_latency_us;
  GRACE_CHECK(int(send.size()) == G && int(recv.size()) == G, "inter counts for {} GPUs, topology has {}", send.size(),
              G);
  std::vector<double> t(G, 0.0);
  std::vector<double> node_us(topo.nodes, 0.0);
  if (topo.node_nic_GBps > 0) {
    std::vector<int64_t> node_send(topo.nodes, 0), node_recv(topo.nodes, 0);
    for (int g = 0; g < G; ++g) {
      node_send[topo.node_of(g)] += send[g];
      node_recv[topo.node_of(g)] += recv[g];
    }
    for (int n = 0; n < topo.nodes; ++n) {
      int64_t copies = std::max(node_send[n], node_recv[n]);
      if (copies > 0)
        node_us[n] = fixed_us + transfer_us(double(copies) * copy_bytes / chunks, topo.node_nic_GBps);
    }
  }
  for (int g = 0; g < G; ++g) {
    int64_t copies = std::max(send[g], recv[g]);
    if (copies == 0) continue;
    double own = fixed_us + transfer_us(double(copies) * copy_bytes / chunks, topo.inter.bandwidth_GBps);
    t[g] = std::max(own, node_us[topo.node_of(g)]);
  }
  return t;
}

}  // namespace grace
