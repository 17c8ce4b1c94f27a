// Expert weights for the engine: where each routed expert's SwiGLU matrices come from.
//
//   random:SEED          deterministic pseudo-random weights, a pure function of
//                        (seed, layer, expert, matrix, element): replicas of an expert are
//                        bit-identical on every rank, and the single-process reference gets the
//                        same numbers. Uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)].
//   path.safetensors     a Hugging Face safetensors file (F32/BF16/F16, converted to F32), or a
//                        directory holding model.safetensors.index.json (sharded) or exactly one
//                        *.safetensors file. Tensors: model.layers.{L}.mlp.experts.{E}.
//                        {gate_proj,up_proj,down_proj}.weight with L = MoE layer + dense_layers.
//
// Shapes as in compute.h: gate/up [intermediate][hidden], down [hidden][intermediate].
// A missing tensor or a shape that does not fit is an InputError naming tensor and file.
#ifndef GRACE_ENGINE_WEIGHTS_H_
#define GRACE_ENGINE_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace grace::engine {

struct ExpertWeights {
  std::vector<float> gate, up, down;
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual std::string describe() const = 0;
  // Fills w for MoE layer `layer` (0-based) and expert `expert`.
  virtual void load(int layer, int expert, ExpertWeights& w) = 0;
  // Fills g with the router (gate) weights of MoE layer `layer`, [experts][hidden] row-major
  // (Hugging Face model.layers.{L}.mlp.gate.weight). random:SEED draws them uniform in
  // [-3/sqrt(hidden), 3/sqrt(hidden)] (logits of std ~1 on the engine's hidden states).
  virtual void load_gate(int layer, int experts, std::vector<float>& g) = 0;
  // Throws InputError if a tensor this (layer, expert) needs is missing or misshapen, without
  // reading the data (cheap: for start-up checks on every rank).
  virtual void check(int layer, int expert) = 0;
};

// spec: "random:SEED" or a safetensors path (see above). dense_layers offsets layer names.
std::unique_ptr<WeightSource> make_weight_source(const std::string& spec, int64_t hidden, int64_t intermediate,
                                                 int dense_layers);

// The tensor name of one expert matrix ("gate_proj" | "up_proj" | "down_proj").
std::string expert_tensor_name(int model_layer, int expert, const char* proj);

}  // namespace grace::engine

#endif  // GRACE_ENGINE_WEIGHTS_H_
