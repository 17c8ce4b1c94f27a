// Fuzz target: safetensors files (SafetensorsFile: header parsing, range checks, and reading
// every F32/BF16/F16 tensor back as F32).
#include <string>

#include "engine/safetensors.h"
#include "fuzz_util.h"
#include "grace/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = grace::fuzz::write_scratch("w.safetensors", data, size);
  try {
    grace::engine::SafetensorsFile f(path);
    for (const auto& [name, info] : f.tensors()) {
      if (info.dtype != "F32" && info.dtype != "BF16" && info.dtype != "F16") continue;
      std::vector<float> v = f.read_f32(name, info.shape);
      int64_t numel = 1;
      for (int64_t d : info.shape) numel *= d;
      if (int64_t(v.size()) != numel) __builtin_trap();
    }
  } catch (const grace::InputError&) {
  }
  return 0;
}
