// Start-up agreement of the engine's ranks (engine_config_hashes / check_same_config in
// grace/engine/engine.h): a hash of the placement and one of the rest of the configuration,
// compared over the world before any activation is exchanged.
#include <fmt/core.h>

#include <string>
#include <vector>

#include "grace/engine/comm.h"
#include "grace/engine/engine.h"
#include "grace/engine/weights.h"
#include "grace/router.h"

#ifndef GRACE_BUILD_ID
#define GRACE_BUILD_ID "unknown"
#endif

namespace grace::engine {
namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string s;
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (i == 8 && ranks.size() > 10) return s + fmt::format(", ... ({} ranks)", ranks.size());
    if (i) s += ',';
    s += std::to_string(ranks[i]);
  }
  return s;
}

}  // namespace

ConfigHashes engine_config_hashes(const EngineInputs& in, const EngineOptions& opt, std::string_view backend) {
  ConfigHashes h;
  if (in.placement) h.placement = placement_hash(*in.placement);
  const ModelSpec& m = in.model;
  std::string s = fmt::format("build={};model={};experts={};top_k={};hidden={};inter={};dense={};", GRACE_BUILD_ID,
                              m.name, m.experts, m.top_k, m.hidden, m.moe_intermediate, m.dense_layers);
  if (in.topo) s += fmt::format("topo={}x{};", in.topo->nodes, in.topo->gpus_per_node);
  if (in.router) s += fmt::format("router={};", in.router->name());
  if (in.weights) s += fmt::format("weights={};", in.weights->describe());
  if (in.trace) {
    // The whole content, not only the shape: ranks given different traces of one shape would
    // route different tokens (and report mixed byte counts).
    uint64_t ids = 1469598103934665603ull;
    for (expert_t e : in.trace->ids) ids = (ids ^ uint64_t(e)) * 1099511628211ull;
    uint64_t offs = 1469598103934665603ull;
    for (int64_t o : in.trace->seq_offsets) offs = (offs ^ uint64_t(o)) * 1099511628211ull;
    s += fmt::format("trace={}x{}x{}@{}:{:016x}/{:016x}/{};", in.trace->num_tokens(), in.trace->num_layers,
                     in.trace->top_k, in.trace->first_token, ids, offs, in.trace->weights.size());
  }
  s += fmt::format(
      "comm={};batch={}/{};layers={};max_batches={};seed={};barrier={};backend={};gate={};groups={}/{}/{};"
      "warmup={};check={};keep={}",
      int(opt.comm), opt.batch_tokens, int(opt.batching), opt.num_layers, opt.max_batches, opt.seed, opt.phase_barrier,
      backend, opt.gate_routing, m.n_group, m.topk_group, m.norm_topk_prob, opt.warmup_batches, opt.check_tokens,
      opt.keep_outputs);
  h.config = fnv1a(s);
  return h;
}

SetupVerdict agree_on_setup(Comm& world, int code) {
  // The worst code, and the lowest failing rank (as size - rank, so max picks the lowest).
  int64_t agree[2] = {code, code ? int64_t(world.size() - world.rank()) : 0};
  world.allreduce_max(agree, 2);
  SetupVerdict v;
  v.code = int(agree[0]);
  v.reporter = v.code ? int(world.size() - agree[1]) : 0;
  return v;
}

std::string check_same_config(Comm& world, const ConfigHashes& mine) {
  // Gather: each rank fills its 4 slots (32-bit halves, so sums of one non-zero value are exact).
  const int P = world.size(), me = world.rank();
  std::vector<int64_t> all(size_t(P) * 4, 0);
  const uint64_t v[2] = {mine.placement, mine.config};
  for (int i = 0; i < 2; ++i) {
    all[size_t(me) * 4 + size_t(2 * i)] = int64_t(v[i] >> 32);
    all[size_t(me) * 4 + size_t(2 * i) + 1] = int64_t(v[i] & 0xffffffffu);
  }
  world.allreduce_sum(all.data(), int(all.size()));
  auto get = [&](int r, int i) {
    return (uint64_t(all[size_t(r) * 4 + size_t(2 * i)]) << 32) | uint64_t(all[size_t(r) * 4 + size_t(2 * i) + 1]);
  };
  std::vector<int> bad_pl, bad_cfg, bad;
  for (int r = 1; r < P; ++r) {
    const bool p = get(r, 0) != get(0, 0), c = get(r, 1) != get(0, 1);
    if (p) bad_pl.push_back(r);
    if (c) bad_cfg.push_back(r);
    if (p || c) bad.push_back(r);
  }
  if (bad.empty()) return "";
  std::string what;
  if (!bad_pl.empty())
    what += fmt::format("placement hash {:016x} on rank(s) {} vs {:016x} on rank 0", get(bad_pl[0], 0),
                        rank_list(bad_pl), get(0, 0));
  if (!bad_cfg.empty())
    what += fmt::format("{}config hash {:016x} on rank(s) {} vs {:016x} on rank 0", what.empty() ? "" : "; ",
                        get(bad_cfg[0], 1), rank_list(bad_cfg), get(0, 1));
  return fmt::format(
      "start-up check: rank(s) {} disagree with rank 0 ({}); every rank must run the same "
      "--placement and configuration",
      rank_list(bad), what);
}

}  // namespace grace::engine
