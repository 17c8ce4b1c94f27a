// Synthetic routing traces that look like real ones (see ../shared/data/README.md for the
// statistics reproduced: per-layer skew drifting with each sequence's topic, co-activated
// expert clusters, adjacent-layer correlation, token-to-token locality in a sequence).
// The built-in default input of the CLI and of every test that must run without ../shared.
#ifndef GRACE_SYNTH_H_
#define GRACE_SYNTH_H_

#include <cstdint>
#include <string>

#include "grace/model.h"
#include "grace/trace.h"

namespace grace {

struct SynthOptions {
  int64_t tokens = 32768;
  int64_t mean_seq_len = 384;  // sequence lengths vary around this
  uint64_t seed = 1;
  int num_topics = 8;  // topics drive per-sequence skew drift
  bool with_weights = true;
  // Strength knobs (defaults calibrated against the real traces; 0 disables the effect).
  double skew = 1.0;      // per-layer popularity skew
  double affinity = 1.0;  // within-layer co-activation clusters
  double layer_correlation = 1.0;
  double token_locality = 1.0;  // consecutive tokens share experts
};

// Deterministic for a given (model, options).
Trace synthesize_trace(const ModelSpec& model, const SynthOptions& opt);

// A trace with no structure at all: every token picks k distinct experts uniformly.
Trace uniform_trace(int layers, int experts, int top_k, int64_t tokens, uint64_t seed, int64_t seq_len = 256);

// Parses a trace argument of the form "synthetic:MODEL[:TOKENS[:SEED]]" (MODEL a preset name or
// model JSON file; TOKENS default 32768, SEED default 1). Returns false when `arg` does not start
// with "synthetic:"; throws InputError naming the argument when it does but is malformed.
// TraceReader and read_trace accept such arguments in place of trace files.
bool parse_synthetic_spec(const std::string& arg, ModelSpec* model, SynthOptions* opt);

}  // namespace grace

#endif  // GRACE_SYNTH_H_
