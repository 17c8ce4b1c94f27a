// Start-up checks of the engine's inputs against each other and the MPI world
// (check_engine_inputs in grace/engine/engine.h). Every rank runs them on identical inputs and
// reaches the same verdict, so a mismatch ends every rank the same way, before any exchange.
#include <algorithm>

#include "grace/engine/engine.h"
#include "grace/engine/weights.h"
#include "grace/error.h"

namespace grace::engine {

void check_engine_inputs(const EngineInputs& in, const EngineOptions& opt, int world_size) {
  GRACE_CHECK(in.trace && in.placement && in.topo && in.router && in.weights, "engine inputs incomplete");
  const Trace& tr = *in.trace;
  const Placement& pl = *in.placement;
  const Topology& topo = *in.topo;
  GRACE_INPUT_CHECK(world_size == topo.num_gpus(),
                    "the MPI world has {} ranks but --topology {}x{} has {} GPUs (run with mpirun -np {})", world_size,
                    topo.nodes, topo.gpus_per_node, topo.num_gpus(), topo.num_gpus());
  GRACE_INPUT_CHECK(pl.nodes == topo.nodes && pl.gpus_per_node == topo.gpus_per_node,
                    "--placement was made for a {}x{} topology, not --topology {}x{}", pl.nodes, pl.gpus_per_node,
                    topo.nodes, topo.gpus_per_node);
  GRACE_INPUT_CHECK(pl.model.empty() || pl.model == in.model.name,
                    "--placement was made for model '{}', not --model '{}'", pl.model, in.model.name);
  GRACE_INPUT_CHECK(pl.num_experts == in.model.experts, "--placement has {} experts per layer but model '{}' has {}",
                    pl.num_experts, in.model.name, in.model.experts);
  GRACE_INPUT_CHECK(int(pl.layers.size()) == pl.num_layers, "--placement: {} layers listed, num_layers {}",
                    pl.layers.size(), pl.num_layers);
  const int L = opt.num_layers > 0 ? opt.num_layers : pl.num_layers;
  GRACE_INPUT_CHECK(L >= 1 && L <= pl.num_layers, "--layers {} outside [1, {}] (the placement's layers)", L,
                    pl.num_layers);
  GRACE_INPUT_CHECK(L <= tr.num_layers, "--layers {}: the trace has only {} MoE layers", L, tr.num_layers);
  GRACE_INPUT_CHECK(tr.top_k >= 1, "--trace: top-k is {}", tr.top_k);
  GRACE_INPUT_CHECK(in.model.hidden > 0 && in.model.moe_intermediate > 0,
                    "--hidden/--intermediate must be positive (got {} and {})", in.model.hidden,
                    in.model.moe_intermediate);
  if (opt.gate_routing) {
    GRACE_INPUT_CHECK(tr.top_k == in.model.top_k,
                      "--routing gate: model '{}' routes to top-{} but the trace "
                      "(which fixes the row format) has top-{}",
                      in.model.name, in.model.top_k, tr.top_k);
    in.model.validate();
  }
  GRACE_INPUT_CHECK(opt.batch_tokens > 0, "--batch-tokens must be positive (got {})", opt.batch_tokens);
  for (int l = 0; l < L; ++l) {
    const auto& experts = pl.layers[size_t(l)].experts;
    GRACE_INPUT_CHECK(int(experts.size()) == pl.num_experts, "--placement: layer {} lists {} experts, not {}", l,
                      experts.size(), pl.num_experts);
    for (int e = 0; e < pl.num_experts; ++e) {
      const auto& inst = experts[size_t(e)].instances;
      GRACE_INPUT_CHECK(!inst.empty(), "--placement: layer {}, expert {} has no instance", l, e);
      for (const Instance& i : inst)
        GRACE_INPUT_CHECK(i.gpu >= 0 && i.gpu < topo.num_gpus(),
                          "--placement: layer {}, expert {}: GPU {} outside [0, {})", l, e, i.gpu, topo.num_gpus());
      in.weights->check(l, e);
    }
  }
  // Trace ids must name placed experts (the reader checks too when given the expert count).
  const int64_t n = tr.num_tokens();
  expert_t max_id = 0;
  for (int64_t t = 0; t < n; ++t)
    for (int l = 0; l < L; ++l) {
      const expert_t* ids = tr.topk(t, l);
      for (int j = 0; j < tr.top_k; ++j) max_id = std::max(max_id, ids[j]);
    }
  GRACE_INPUT_CHECK(n == 0 || int(max_id) < pl.num_experts, "--trace has expert id {} but the placement has {} experts",
                    max_id, pl.num_experts);
}

}  // namespace grace::engine
