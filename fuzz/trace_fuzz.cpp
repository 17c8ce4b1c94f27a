// Fuzz target: a trace directory (topk_ids.npy, seq_offsets.npy, topk_weights_f32.npy) streamed
// by TraceReader with and without an expert count, the way plan/evaluate read traces.
// Input: byte 0 = expert count (0 = unchecked), byte 1 bit 0 = read weights, then the three
// files as length-prefixed parts (see Splitter; an empty part means "no such file").
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "grace/error.h"
#include "grace/trace_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int experts = data[0];
  const bool weights = data[1] & 1;
  grace::fuzz::Splitter s{data + 2, size - 2};
  const char* names[] = {"topk_ids.npy", "seq_offsets.npy", "topk_weights_f32.npy"};
  for (const char* n : names) {
    grace::fuzz::remove_scratch(std::string("t/") + n);
  }
  std::filesystem::create_directories(grace::fuzz::scratch_dir() + "/t");
  for (const char* n : names) {
    const uint8_t* part;
    size_t len;
    if (!s.next(&part, &len)) break;
    if (len) grace::fuzz::write_scratch(std::string("t/") + n, part, len);
  }
  try {
    grace::TraceReader r({grace::fuzz::scratch_dir() + "/t"}, experts, weights);
    grace::Trace chunk;
    int64_t tokens = 0;
    while (r.next(chunk, 7)) {
      tokens += chunk.num_tokens();
      if (experts > 0)
        for (grace::expert_t id : chunk.ids)
          if (id >= experts) __builtin_trap();  // the reader promised ids < experts
    }
    if (tokens != r.shape().tokens) __builtin_trap();
  } catch (const grace::InputError&) {
  }
  return 0;
}
