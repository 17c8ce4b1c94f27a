// Fuzz target: topology specs. The input is parsed as a topology JSON file (parse_topology on a
// .json path) and, when short, as a spec string ("2x4@h200"). An accepted topology must
// validate and answer tflops_at without trouble.
#include <string>

#include "fuzz_util.h"
#include "grace/error.h"
#include "grace/topology.h"

namespace {
void use(const grace::Topology& t) {
  t.validate();
  (void)t.tflops_at(1), (void)t.tflops_at(1e6);
  (void)grace::slots_per_gpu(t, 64, -1);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (size < 32 && text.find(".json") == std::string::npos) {
    try {
      use(grace::parse_topology(text));
    } catch (const grace::InputError&) {
    }
  }
  const std::string path = grace::fuzz::write_scratch("topo.json", data, size);
  try {
    use(grace::parse_topology(path));
  } catch (const grace::InputError&) {
  }
  return 0;
}
