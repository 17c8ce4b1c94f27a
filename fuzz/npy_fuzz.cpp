// Fuzz target: one .npy / .npy.gz file through NpyReader (header parsing and chunked data reads,
// raw and as int64), plus parse_npy_header on the raw text.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "grace/error.h"
#include "trace/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    grace::parse_npy_header(std::string(reinterpret_cast<const char*>(data), size), "<fuzz>");
  } catch (const grace::InputError&) {
  }
  const std::string path = grace::fuzz::write_scratch("a.npy", data, size);
  try {
    grace::NpyReader r;
    r.open(path);
    std::vector<unsigned char> raw;
    std::vector<int64_t> ints;
    const bool integer = r.header().dtype != grace::NpyDtype::kF2 && r.header().dtype != grace::NpyDtype::kF4;
    // Bounded: the input is small, so a huge shape ends in "truncated data" after a few chunks.
    while (r.remaining() > 0) {
      int64_t n = std::min<int64_t>(r.remaining(), 4096);
      if (integer)
        r.read_int64(n, ints);
      else
        r.read_raw(n, raw);
    }
  } catch (const grace::InputError&) {
  }
  return 0;
}
