// Planner::plan (the non-virtual driver every planner goes through), PlanContext::slots and
// the registry of planners by name.
#include "grace/planner.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "grace/error.h"
#include "plan/planners.h"

namespace grace {

int PlanContext::slots() const {
  int s = slots_per_gpu(topo, model.experts, options.redundant_slots);
  // Expert memory holds a GPU's instances of every layer: the same slots at each layer.
  int layers = std::max(1, model.moe_layers > 0 ? model.moe_layers : profile.num_layers);
  if (topo.expert_memory_GB > 0 && model.expert_bytes() > 0) {
    double fit = std::floor(topo.expert_memory_GB * 1e9 / (double(model.expert_bytes()) * layers));
    s = int(std::min<double>(s, fit));
  }
  return s;
}

Placement Planner::plan(const PlanContext& ctx) const {
  const Profile& prof = ctx.profile;
  GRACE_INPUT_CHECK(prof.num_layers > 0 && prof.num_experts > 0 && int(prof.layers.size()) == prof.num_layers,
                    "plan: the profile is empty ({} layers, {} experts)", prof.num_layers, prof.num_experts);
  GRACE_INPUT_CHECK(prof.num_experts == ctx.model.experts,
                    "plan: the profile has {} experts per layer but model '{}' has {}", prof.num_experts,
                    ctx.model.name, ctx.model.experts);
  GRACE_INPUT_CHECK(ctx.model.moe_layers <= 0 || ctx.model.moe_layers == prof.num_layers,
                    "plan: the profile has {} MoE layers but model '{}' has {}", prof.num_layers, ctx.model.name,
                    ctx.model.moe_layers);
  for (int l = 0; l < prof.num_layers; ++l) {
    const auto& lp = prof.layers[l];
    GRACE_INPUT_CHECK(lp.num_experts == prof.num_experts && lp.load.size() == size_t(prof.num_experts) &&
                          lp.affinity.size() == size_t(prof.num_experts) * prof.num_experts,
                      "plan: profile layer {} has the wrong shape", l);
  }
  GRACE_INPUT_CHECK(ctx.options.redundant_slots >= -1,
                    "plan: --redundant-slots must be >= 0 (or -1 for one per GPU), got {}",
                    ctx.options.redundant_slots);
  const int slots = ctx.slots();
  // What a placement file may hold (placement_json.cpp reads slots_per_gpu in [1, 65536]).
  GRACE_INPUT_CHECK(slots <= 65536,
                    "plan: {} expert slots per GPU (--redundant {} over {} GPUs) is over the 65536 a placement "
                    "can hold",
                    slots, ctx.options.redundant_slots, ctx.num_gpus());
  GRACE_INPUT_CHECK(int64_t(slots) * ctx.num_gpus() >= prof.num_experts,
                    "plan: topology '{}' has {} GPUs x {} expert slots, too few for {} experts "
                    "(raise slots_per_gpu / expert_memory_GB or use more GPUs)",
                    ctx.topo.name, ctx.num_gpus(), slots, prof.num_experts);

  Placement p = plan_impl(ctx);
  p.model = ctx.model.name;
  p.policy = std::string(name());
  p.seed = ctx.options.seed;
  p.num_layers = prof.num_layers;
  p.num_experts = prof.num_experts;
  p.nodes = ctx.topo.nodes;
  p.gpus_per_node = ctx.topo.gpus_per_node;
  p.slots_per_gpu = slots;
  GRACE_CHECK(int(p.layers.size()) == prof.num_layers, "planner '{}' made {} layers, expected {}", name(),
              p.layers.size(), prof.num_layers);
  for (auto& layer : p.layers) {
    for (auto& ep : layer.experts) {
      double sum = 0;
      for (const auto& in : ep.instances) sum += in.weight;
      GRACE_CHECK(!ep.instances.empty() && sum > 0, "planner '{}' left an expert without weight", name());
      for (auto& in : ep.instances) in.weight /= sum;
    }
  }
  try {
    validate_placement(p, ctx.topo, ctx.model);
  } catch (const InputError& e) {
    // The inputs were checked above: an invalid result is a bug in the planner.
    throw Error(fmt::format("planner '{}' produced an invalid placement: {}", name(), e.what()));
  }
  return p;
}

namespace {

using Factory = std::unique_ptr<Planner> (*)();

// The one explicit registry, in the order `grace plan --help` lists them.
const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> r = {
      {"contiguous", &plan::make_contiguous_planner},
      {"eplb", &plan::make_eplb_planner},
      {"uniform-affinity", &plan::make_uniform_affinity_planner},
      {"uniform-affinity+replicas", &plan::make_uniform_affinity_replicas_planner},
      {"grace-paper", &plan::make_grace_paper_planner},
      {"grace", &plan::make_grace_planner},
  };
  return r;
}

}  // namespace

std::vector<std::string> planner_names() {
  std::vector<std::string> names;
  for (const auto& [n, f] : registry()) names.push_back(n);
  return names;
}

std::unique_ptr<Planner> make_planner(std::string_view name) {
  for (const auto& [n, f] : registry())
    if (n == name) return f();
  std::string list;
  for (const auto& n : planner_names()) list += (list.empty() ? "" : ", ") + n;
  fail_input("unknown planner '{}' (valid: {})", name, list);
}

namespace plan {

std::vector<int> equal_sizes(int experts, int gpus) {
  std::vector<int> s(gpus, experts / gpus);
  for (int g = 0; g < experts % gpus; ++g) ++s[g];
  return s;
}

}  // namespace plan
}  // namespace grace
