// Fuzz target: model JSON files (load_model on a path). An accepted model must validate.
#include <string>

#include "fuzz_util.h"
#include "grace/error.h"
#include "grace/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = grace::fuzz::write_scratch("model.json", data, size);
  try {
    grace::ModelSpec m = grace::load_model(path);
    m.validate();
    (void)m.expert_bytes(), (void)m.token_bytes();
  } catch (const grace::InputError&) {
  }
  return 0;
}
