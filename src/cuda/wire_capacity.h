// The capacity of a dispatch message of the GPU engine (src/cuda/a2a_stage.h): how many wire
// rows the message over one (layer, stage, direction) has room for, which both ends compute from
// numbers they both have, so no count is exchanged first. Plain host code (no CUDA, no NCCL).
#ifndef GRACE_SRC_CUDA_WIRE_CAPACITY_H_
#define GRACE_SRC_CUDA_WIRE_CAPACITY_H_

#include <cstdint>

namespace grace::cuda {

// What a (layer, stage, direction) carried last time: units, and the sender's tokens then
// (-1 when the ends do not know the sender's token count).
struct WireHistory {
  int64_t units = -1, tokens = -1;
};

// The capacity of the next message over that (layer, stage, direction) when the sender now
// holds `tokens` tokens (-1: unknown): the last units, scaled by tokens / last tokens (rounded
// up) when both are known, + 1/32 + 32 units; 0 before the first call. Both ends evaluate it on
// the same numbers (the engine's sequence pinning gives every rank every rank's token count).
inline int64_t capacity_for(const WireHistory& h, int64_t tokens) {
  if (h.units < 0) return 0;
  const int64_t base = tokens >= 0 && h.tokens > 0 ? (h.units * tokens + h.tokens - 1) / h.tokens : h.units;
  return base + base / 32 + 32;
}

}  // namespace grace::cuda

#endif  // GRACE_SRC_CUDA_WIRE_CAPACITY_H_
