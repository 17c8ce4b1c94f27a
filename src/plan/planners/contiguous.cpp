// contiguous: the default expert-parallel layout. Expert e lives on GPU e / ceil(E / G); no
// replicas; the profile is not looked at.
#include "grace/error.h"
#include "plan/plan_util.h"
#include "plan/planners.h"

namespace grace::plan {
namespace {

class ContiguousPlanner final : public Planner {
 public:
  std::string_view name() const override { return "contiguous"; }
  std::string_view description() const override {
    return "default expert parallelism: expert e on GPU e / ceil(E/G), no replicas";
  }

 private:
  Placement plan_impl(const PlanContext& ctx) const override {
    const int E = ctx.profile.num_experts, G = ctx.num_gpus();
    const int per = (E + G - 1) / G;
    std::vector<int> gpu_of(E);
    for (int e = 0; e < E; ++e) gpu_of[e] = e / per;
    Placement p;
    p.layers.assign(ctx.profile.num_layers, primaries_layer(gpu_of));
    return p;
  }
};

}  // namespace

std::unique_ptr<Planner> make_contiguous_planner() { return std::make_unique<ContiguousPlanner>(); }

}  // namespace grace::plan
