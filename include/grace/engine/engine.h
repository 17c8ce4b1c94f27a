// The distributed MoE engine: replays a routing trace through real expert FFNs on a world of
// ranks, one rank per GPU of the topology, with flat or hierarchical sparse all-to-all.
//
// Per batch (sequences pinned to the rank with the fewest tokens so far, as in the evaluator;
// a batch is batch_tokens consecutive tokens of the trace, or with Batching::kBalanced every
// rank's share of its own tokens, grace/batching.h) and per MoE layer, every rank:
//   1. routes the batch's (token, expert) pairs with the router (every rank routes the whole
//      batch with the same deterministic router, so decisions agree; each uses its own tokens);
//   2. dispatches its tokens' hidden states with the experts and gate weights they need:
//        flat:          one all-to-all-v over the world, one copy per (token, destination rank);
//        hierarchical:  stage 1 over the world to the same-local-rank peer of each destination
//                       node, one copy per (token, node); stage 2 inside the node, one copy per
//                       (token, destination rank);
//   3. runs the SwiGLU FFN of every hosted instance on the rows it received (ComputeBackend);
//   4. combines: each receiver returns one weighted partial sum per received row, along the
//      reverse path; hierarchical reduces inside the destination node first, so one vector per
//      (token, node) crosses back; the source adds them and the residual.
// A layer's output is the next layer's input. Hidden states start as pseudo-random values that
// are a function of (seed, token id); gate weights come from the trace (1/k when it has none).
//
// Errors: inputs that do not fit (world size vs topology, placement vs model/topology/trace)
// throw InputError on every rank identically, before any communication of activations.
#ifndef GRACE_ENGINE_ENGINE_H_
#define GRACE_ENGINE_ENGINE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grace/batching.h"
#include "grace/comm_scheme.h"
#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/topology.h"
#include "grace/trace.h"

namespace grace {
class Router;
}

namespace grace::engine {

class Comm;
class ComputeBackend;
class MoeBackend;
class WeightSource;

struct EngineOptions {
  CommScheme comm = CommScheme::kHierarchical;
  // false: top-k ids and gate weights come from the trace (reproducible experiments); true:
  // every MoE layer computes them from the hidden states (gate.h; weights from the WeightSource).
  bool gate_routing = false;
  int64_t batch_tokens = 4096;
  Batching batching = Batching::kTrace;  // as the evaluator's (grace/batching.h)
  int num_layers = 0;                    // MoE layers to run; 0: all of the placement's
  int64_t max_batches = 0;               // 0: every batch of the trace
  uint64_t seed = 0;                     // hidden states
  // Barrier (not timed) before each phase, so phase times measure the phase itself rather than
  // waiting for the slowest rank's previous phase.
  bool phase_barrier = true;
  bool keep_outputs = false;  // keep the final hidden state of every local token
  // Untimed runs of the first batch before the timed loop (connection set-up, allocator and
  // library warm-up stay out of the phase times).
  int warmup_batches = 0;
  // Tokens the output check compares afterwards (grace run --check; 0: none). Collective, so it
  // is part of the start-up agreement like every option that changes what the ranks exchange.
  int64_t check_tokens = 0;
  // The backend's activations are BF16 (cuda): the reference rounds the gate's input to BF16
  // the same way, so gate routing picks the same experts.
  bool bf16_activations = false;
  // Fault injection for tests: this rank exits abnormally before dispatch at this layer of
  // the first batch. -1: off.
  int fail_rank = -1;
  int fail_layer = 0;
  // Hang detection: a watchdog thread aborts the whole job (Comm::abort) when this rank makes
  // no progress (no phase boundary passed) for timeout_s seconds. <= 0: off.
  double timeout_s = 0;
  // Hang injection for tests: this rank sleeps forever instead of entering the dispatch
  // collectives at this layer of the first batch. -1: off.
  int hang_rank = -1;
  int hang_layer = 0;
};

// Bytes and copies are per direction and counted by the engine at the sender, self excluded.
struct TierCounts {
  int64_t intra_bytes = 0, inter_bytes = 0;  // everything on the wire (hidden + routing meta)
  int64_t intra_rows = 0, inter_rows = 0;    // token copies (rows)
};

struct EngineLayerStats {
  // Wall seconds summed over batches; each (batch, layer, phase) is the max over ranks.
  double dispatch_s = 0, compute_s = 0, combine_s = 0;
  // Per-rank compute seconds summed over batches: the max and mean over ranks.
  double compute_rank_max_s = 0, compute_rank_mean_s = 0;
  TierCounts dispatch, combine;  // summed over ranks and batches
  int64_t pairs = 0;             // token-expert pairs computed
};

struct EngineResult {
  std::string backend, routing, comm, router, weights, compute;
  std::string batching = "trace";  // batching_name(EngineOptions::batching)
  int ranks = 0, nodes = 0, gpus_per_node = 0;
  int64_t hidden = 0, intermediate = 0, top_k = 0;
  int64_t batch_tokens = 0, num_batches = 0, tokens = 0;
  int num_layers = 0;
  int64_t row_bytes = 0;        // one dispatch row (hidden F32 + top_k routing entries)
  double weight_bytes_max = 0;  // expert weight memory of the largest rank
  double wall_s = 0;            // whole run, max over ranks
  std::vector<EngineLayerStats> per_layer;
  EngineLayerStats total;
  // Every timed layer call (batch-major: batch b, layer l at b * num_layers + l): dispatch +
  // compute + combine seconds, each phase the max over ranks. The totals above are their sums;
  // the spread shows a stall (one slow exchange) that a sum hides.
  std::vector<double> call_s;
  // keep_outputs: this rank's tokens (global ids) and their final hidden states [n][hidden].
  std::vector<int64_t> out_tokens;
  std::vector<float> out_hidden;
  // check_outputs: tokens compared (all ranks), max over ranks of max|diff| / max|ref|.
  int64_t checked_tokens = 0;
  double check_rel_err = 0, check_tolerance = 0;
  bool check_ok = true;
};

struct EngineInputs {
  const Trace* trace = nullptr;          // the whole trace, identical on every rank
  const Placement* placement = nullptr;  // identical on every rank
  const Topology* topo = nullptr;
  ModelSpec model;           // hidden / moe_intermediate are the dims run
  Router* router = nullptr;  // made for placement and topo
  WeightSource* weights = nullptr;
};

// Checks the inputs against each other and the world (InputError on a mismatch). Collective-
// free: every rank reaches the same verdict from the same inputs.
void check_engine_inputs(const EngineInputs& in, const EngineOptions& opt, int world_size);

// Runs the engine: one driver loop (batches x MoE layers) over a backend (backend.h). Collective
// over `world`. First the start-up agreement: every rank hashes its placement and configuration
// (engine_config_hashes, with the backend's name) and check_same_config compares them; when they
// differ every rank throws the same StartupMismatch, before anything else is exchanged. Stats
// are reduced to every rank.
EngineResult run_engine(Comm& world, MoeBackend& backend, const EngineInputs& in, const EngineOptions& opt);
// The same with the CPU backend (make_cpu_backend) over `compute`.
EngineResult run_engine(Comm& world, ComputeBackend& compute, const EngineInputs& in, const EngineOptions& opt);

// Thrown by run_engine on every rank when the ranks' hashes differ (message: check_same_config's).
struct StartupMismatch : InputError {
  using InputError::InputError;
};

// Thrown by run_engine on every rank when loading the weights failed on at least one rank (a
// missing or non-finite tensor, memory): the ranks agree on it (agree_on_setup) before anything is
// exchanged, so the job ends with one message and the failing rank's exit code instead of an
// abort. `reporter` is the lowest failing rank; only its what() holds the message (others: "").
struct LoadFailure : std::runtime_error {
  LoadFailure(int code, int reporter, const std::string& msg)
      : std::runtime_error(msg), code(code), reporter(reporter) {}
  int code;      // 2: bad input (InputError), 1: anything else
  int reporter;  // the rank that prints what()
};

// Set-up agreement before run_engine (bad flags, files, a world that does not fit): every rank
// passes its own outcome (code 0 = fine, else the exit code and message); all ranks learn the
// worst code and which rank reports (the lowest failing one; rank 0 when all fail alike).
struct SetupVerdict {
  int code = 0;      // 0: every rank is ready
  int reporter = 0;  // the rank that prints the message
};
SetupVerdict agree_on_setup(Comm& world, int code);

// The single-process reference: the same layers, batches, hidden states, gate weights and
// expert weights, every expert local, no communication. Returns the final hidden state of the
// requested tokens (global ids), [n][hidden] in that order.
std::vector<float> run_reference(const EngineInputs& in, const EngineOptions& opt, const std::vector<int64_t>& tokens);

// Collective: every rank compares the final hidden states of up to `per_rank` of its kept tokens
// (opt.keep_outputs) with run_reference and fills r.checked_tokens / check_rel_err (max over
// ranks) / check_ok (rel err <= tolerance) on every rank.
void check_outputs(Comm& world, const EngineInputs& in, const EngineOptions& opt, int64_t per_rank, double tolerance,
                   EngineResult& r);

// Start-up agreement. Every rank hashes what must be identical across ranks: the placement
// (placement_hash) and the rest of the configuration (model dims, topology shape, router, comm,
// batch tokens, layers, max batches, seed, weights spec, trace shape, build id).
struct ConfigHashes {
  uint64_t placement = 0, config = 0;
};
ConfigHashes engine_config_hashes(const EngineInputs& in, const EngineOptions& opt, std::string_view backend = "cpu");

// Collective over `world`: gathers every rank's hashes (small allreduces) and returns "" when all
// ranks agree with rank 0, else one line naming the ranks that differ from rank 0 and which hash
// (placement and/or config) disagrees. Every rank gets the same string.
std::string check_same_config(Comm& world, const ConfigHashes& mine);

// Report for `grace run` and its --json.
std::string format_engine(const EngineResult& r);
std::string engine_json(const EngineResult& r);

}  // namespace grace::engine

#endif  // GRACE_ENGINE_ENGINE_H_
