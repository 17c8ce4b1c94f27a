// Fuzz target: grace placement JSON (placement_from_json). An accepted placement must survive
// validate_placement against its own topology and a write/read round trip unchanged.
#include <string>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  grace::Placement p;
  try {
    p = grace::placement_from_json(text, "<fuzz>");
  } catch (const grace::InputError&) {
    return 0;
  }
  const std::string again = grace::placement_to_json(p);
  const grace::Placement q = grace::placement_from_json(again, "<round trip>");  // must not throw
  if (grace::placement_to_json(q) != again || grace::placement_hash(q) != grace::placement_hash(p)) __builtin_trap();
  try {
    grace::Topology topo = grace::parse_topology(std::to_string(p.nodes) + "x" + std::to_string(p.gpus_per_node));
    topo.slots_per_gpu = p.slots_per_gpu;
    grace::ModelSpec model = grace::generic_model(p.num_layers, p.num_experts, 1);
    grace::validate_placement(p, topo, model, "<fuzz>");
    for (int l = 0; l < p.num_layers; ++l) (void)p.gpu_slots(l);
  } catch (const grace::InputError&) {
  }
  return 0;
}
