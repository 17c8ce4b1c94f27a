// Fuzz target: SGLang / vLLM placement exports read back by import_placement.
// Input: byte 0 bit 0 = format (0 sglang, 1 vllm), byte 1 = nodes (1..4), byte 2 = GPUs per
// node (1..8), then the JSON text. An accepted import must export again without error.
#include <string>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const auto fmt = (data[0] & 1) ? grace::ExportFormat::kVllm : grace::ExportFormat::kSglang;
  const int nodes = 1 + data[1] % 4, gpus = 1 + data[2] % 8;
  const std::string text(reinterpret_cast<const char*>(data + 3), size - 3);
  try {
    grace::Placement p = grace::import_placement(text, fmt, nodes, gpus, "<fuzz>");
    if (p.nodes != nodes || p.gpus_per_node != gpus) __builtin_trap();
    for (int l = 0; l < p.num_layers; ++l) (void)p.gpu_slots(l);
    (void)grace::export_placement(p, fmt, grace::generic_model(p.num_layers, p.num_experts, 1));
  } catch (const grace::InputError&) {
  }
  return 0;
}
