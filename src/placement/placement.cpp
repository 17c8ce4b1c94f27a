// Placement accessors (gpu_slots, num_instances) and the content hash (see placement.h).
//
// placement_hash is FNV-1a 64 over a canonical byte serialisation that does not depend on the
// platform: integers as 8 little-endian bytes, strings as length + bytes, weights as the
// little-endian bytes of their IEEE-754 double bit pattern. Everything that a file holds is
// hashed (model, policy, seed, shape, every instance's GPU and weight, in order).
#include "grace/placement.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "grace/error.h"

namespace grace {

std::vector<std::vector<int>> Placement::gpu_slots(int layer) const {
  GRACE_CHECK(layer >= 0 && layer < int(layers.size()), "layer {} of {}", layer, layers.size());
  std::vector<std::vector<int>> slots(size_t(std::max(0, num_gpus())));
  const auto& experts = layers[size_t(layer)].experts;
  auto put = [&](int gpu, int e) {
    GRACE_CHECK(gpu >= 0 && gpu < int(slots.size()), "layer {}, expert {}: GPU {} out of range", layer, e, gpu);
    slots[size_t(gpu)].push_back(e);
  };
  for (int e = 0; e < int(experts.size()); ++e)
    if (!experts[size_t(e)].instances.empty()) put(experts[size_t(e)].instances[0].gpu, e);
  for (int e = 0; e < int(experts.size()); ++e)
    for (size_t i = 1; i < experts[size_t(e)].instances.size(); ++i) put(experts[size_t(e)].instances[i].gpu, e);
  return slots;
}

int Placement::num_instances(int layer) const {
  GRACE_CHECK(layer >= 0 && layer < int(layers.size()), "layer {} of {}", layer, layers.size());
  int n = 0;
  for (const auto& e : layers[size_t(layer)].experts) n += e.num_instances();
  return n;
}

namespace {

class Fnv1a {
 public:
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 1099511628211ULL;
    }
  }
  void u64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(b, 8);
  }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  void f64(double d) { u64(std::bit_cast<uint64_t>(d)); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 14695981039346656037ULL;
};

}  // namespace

uint64_t placement_hash(const Placement& p) {
  Fnv1a h;
  h.str("grace-placement");
  h.u64(uint64_t(Placement::kFormatVersion));
  h.str(p.model);
  h.str(p.policy);
  h.u64(p.seed);
  for (int v : {p.num_layers, p.num_experts, p.nodes, p.gpus_per_node, p.slots_per_gpu}) h.u64(uint64_t(int64_t(v)));
  h.u64(p.layers.size());
  for (const auto& layer : p.layers) {
    h.u64(layer.experts.size());
    for (const auto& e : layer.experts) {
      h.u64(e.instances.size());
      for (const auto& in : e.instances) {
        h.u64(uint64_t(int64_t(in.gpu)));
        h.f64(in.weight);
      }
    }
  }
  return h.value();
}

}  // namespace grace
