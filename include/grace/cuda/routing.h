// Routing on the GPU: the routing table (grace/routing_table.h) copied to device memory, and
// a kernel that turns the gate's top-k ids into the serving GPU and flat slot of every
// (token, expert) pair with no host round trip. Decisions are bit-identical to the CPU
// routers of the same name ("primary", "tar"): the same table, thresholds and pick_hash.
//
// Flat slot: RoutingTable::gpu_slot_offset(layer)[gpu] + slot_of(le, gpu), i.e. instances are
// numbered GPU by GPU in Placement::gpu_slots order. Sorting pairs by flat slot makes them
// contiguous per destination GPU and, inside it, per hosted expert instance.
#ifndef GRACE_CUDA_ROUTING_H_
#define GRACE_CUDA_ROUTING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grace/cuda/device.h"

namespace grace {
class RoutingTable;
}

namespace grace::cuda {

enum class DeviceRouter { kPrimary, kTar };
// The routers with a device kernel, named as in the router registry (grace/router.h).
std::vector<std::string> device_router_names();
// A registered router's device kernel; throws InputError for an unknown name (listing the
// registry) or a router with no GPU kernel (listing device_router_names()).
DeviceRouter parse_device_router(std::string_view name);

// Raw device pointers of a table (layout of grace/routing_table.h), passed to kernels by value.
struct RoutingTableView {
  int num_experts = 0, num_gpus = 0, num_nodes = 0, gpus_per_node = 0, bit_words = 0;
  const int32_t* inst_offset = nullptr;
  const int32_t* inst_gpu = nullptr;
  const uint32_t* inst_cum = nullptr;
  const int32_t* cand_offset = nullptr;
  const int32_t* cand_gpu = nullptr;
  const uint32_t* cand_cum = nullptr;
  const uint32_t* host_bits = nullptr;
  const int32_t* slot_of = nullptr;
  const int32_t* gpu_slot_offset = nullptr;  // [L][G + 1]
  const uint32_t* tar_decision = nullptr;    // [L][G][E] (TarDecision)
};

// tar's decision for a token on GPU src and expert le, worked out when the table is copied to
// the device, so that most pairs cost one read (the fused route + bucket + scatter reads it in
// shared memory; it gives the same bits as the whole decision, tested):
//   bit 31 clear          decided: serving GPU w >> 16, flat slot w & 0xffff
//   bit 31 set, not kFull a weighted draw among cn = (w >> 20) & 0x7ff candidates starting at
//                         candidate entry (w & 0xfffff) + the layer's cand_base
//   kFull                 not worked out (a value out of these ranges): the whole decision
namespace tar_decision {
constexpr uint32_t kDraw = 1u << 31;
constexpr uint32_t kFull = ~0u;
}  // namespace tar_decision

// Where one layer's entries start in the instance and candidate arrays, and how many there are
// (the fused route + bucket + scatter copies a layer's part of the table into shared memory).
struct RoutingTableSlice {
  int32_t inst_base = 0, inst_count = 0, cand_base = 0, cand_count = 0;
};

class DeviceRoutingTable {
 public:
  explicit DeviceRoutingTable(const RoutingTable& table);
  const RoutingTableView& view() const { return view_; }
  // Instances (flat slots) at `layer`: the number of buckets the permute step sorts into.
  int num_slots(int layer) const { return slots_per_layer_[layer]; }
  const RoutingTableSlice& slice(int layer) const { return slices_[layer]; }

 private:
  DeviceBuffer<int32_t> inst_offset_, inst_gpu_, cand_offset_, cand_gpu_, slot_of_, gso_;
  DeviceBuffer<uint32_t> inst_cum_, cand_cum_, host_bits_, tar_decision_;
  RoutingTableView view_;
  std::vector<int> slots_per_layer_;
  std::vector<RoutingTableSlice> slices_;
};

// One layer of one batch, every pointer in device memory.
struct DeviceRouteBatch {
  int layer = 0;
  int64_t num_tokens = 0;
  int top_k = 0;
  const int32_t* ids = nullptr;  // [num_tokens][top_k] expert ids
  const int32_t* src_gpu = nullptr;  // [num_tokens], or null: every token lives on src_gpu_all
  int src_gpu_all = 0;
  int64_t token_base = 0;        // token t's global index (the hash key) is token_base + t
  const int64_t* token_index = nullptr;  // [num_tokens], or null: token_base + t
};

// dest_gpu[t*k+j] and flat_slot[t*k+j] (either may be null) for every pair. Asynchronous.
void route_on_device(const DeviceRoutingTable& table, DeviceRouter router, uint64_t seed,
                     const DeviceRouteBatch& batch, int32_t* dest_gpu, int32_t* flat_slot,
                     Stream stream = nullptr);

}  // namespace grace::cuda

#endif  // GRACE_CUDA_ROUTING_H_
