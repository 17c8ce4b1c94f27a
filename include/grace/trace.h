// Trace: recorded MoE routing, per token and MoE layer the top-k expert ids (slot 0 is the
// gate's first choice), grouped into sequences, with optional gate weights.
//
// Layout is [tokens][layers][k], C order, as in the NumPy files of ../shared/data/traces.
// A Trace is also the unit of streaming: TraceReader hands out chunks as Traces whose
// first_token / first_seq say where they sit in the whole trace.
#ifndef GRACE_TRACE_H_
#define GRACE_TRACE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace grace {

using expert_t = uint16_t;  // expert ids fit 16 bits (models have <= 65535 experts per layer)

struct Trace {
  int num_layers = 0;
  int top_k = 0;
  int num_experts = 0;  // expert ids are < num_experts

  std::vector<expert_t> ids;         // [tokens][num_layers][top_k]
  std::vector<float> weights;        // empty, or the gate weight of each id (same shape)
  std::vector<int64_t> seq_offsets;  // [sequences + 1]; 0 first, num_tokens() last

  // Streaming position: index of this chunk's first token in the whole trace, and the global
  // index of the sequence that token belongs to (a chunk may start or end mid-sequence).
  int64_t first_token = 0;
  int64_t first_seq = 0;

  int64_t num_tokens() const {
    return (num_layers > 0 && top_k > 0) ? int64_t(ids.size()) / (int64_t(num_layers) * top_k) : 0;
  }
  int64_t num_seqs() const { return seq_offsets.empty() ? 0 : int64_t(seq_offsets.size()) - 1; }
  bool has_weights() const { return !weights.empty(); }

  // The top_k ids of token t (chunk-relative) at layer l.
  const expert_t* topk(int64_t t, int layer) const { return ids.data() + (t * num_layers + layer) * top_k; }
  const float* topk_weights(int64_t t, int layer) const { return weights.data() + (t * num_layers + layer) * top_k; }
};

// Throws InputError unless `offsets` are sequence offsets of `tokens` tokens: 0 first, strictly
// increasing (no empty sequences), `tokens` last. Messages read "<what> must start at 0, ...",
// "<what> end at N, but <ids> has T tokens" (what: e.g. "f.npy: sequence offsets").
void check_seq_offsets(const std::vector<int64_t>& offsets, int64_t tokens, const std::string& what,
                       const std::string& ids);

}  // namespace grace

#endif  // GRACE_TRACE_H_
