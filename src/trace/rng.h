// A small, fast, portable PRNG (xoshiro256** seeded by splitmix64). Unlike std:: distributions
// its output is identical on every platform and standard library, so synthetic traces are
// reproducible from their seed everywhere.
#ifndef GRACE_TRACE_RNG_H_
#define GRACE_TRACE_RNG_H_

#include <cmath>
#include <cstdint>

namespace grace {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n) (n > 0; Lemire's multiply-shift, bias < n / 2^64).
  uint32_t below(uint32_t n) { return uint32_t((unsigned __int128)(next()) * n >> 64); }
  // Standard normal (Box-Muller; one value per call).
  double normal() {
    double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(1.0 - u)) * std::cos(6.283185307179586 * v);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace grace

#endif  // GRACE_TRACE_RNG_H_
