// Counter-based pseudo-random numbers for the engine: a value is a pure function of a key and an
// index (splitmix64 finaliser), so any rank can regenerate any expert's weights or any token's
// hidden state without communication, and the reference gets identical numbers.
#ifndef GRACE_ENGINE_RNG_H_
#define GRACE_ENGINE_RNG_H_

#include <cstdint>

namespace grace::engine {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t mix_key(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  return splitmix64(splitmix64(splitmix64(splitmix64(a) ^ b) ^ c) ^ d);
}

// Uniform in [-1, 1) from (key, index).
inline float uniform_pm1(uint64_t key, uint64_t index) {
  const uint64_t r = splitmix64(key ^ (index * 0xD1B54A32D192ED03ull));
  return float(double(r >> 40) * (2.0 / double(1ull << 24)) - 1.0);
}

// The engine's initial hidden state of token `token` (global id), `hidden` values.
inline void init_hidden(uint64_t seed, int64_t token, int64_t hidden, float* out) {
  const uint64_t key = mix_key(seed, uint64_t(token), 0x6869646465ull);
  for (int64_t h = 0; h < hidden; ++h) out[h] = uniform_pm1(key, uint64_t(h));
}

}  // namespace grace::engine

#endif  // GRACE_ENGINE_RNG_H_
