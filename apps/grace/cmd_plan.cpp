// grace plan: profile a routing trace (or the built-in synthetic one), plan a placement with
// one policy or all of them, print the plan's key numbers and write the placement file(s).
//
//   grace plan [--trace T]... [--model M] [--topology X] [--policy P|all] [--redundant N]
//              [--seed S] [--ratio r] [-o placement.json] [--dump-loads loads.json] [--threads N]
//              [--json]
//
// Every input is checked before the long steps (model, topology, policy names, every output
// path, trace shape against the model). Placements are validated against the topology before
// they are written. The files written (one placement, or one per policy with --policy all, and
// --dump-loads) appear as a set: all of them or none (core/staged_files.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "batching_option.h"
#include "commands.h"
#include "core/cost_limits.h"
#include "core/json_file.h"
#include "core/output_path.h"
#include "core/staged_files.h"
#include "grace/error.h"
#include "grace/expert_memory.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/profile_stream.h"
#include "grace/router.h"
#include "grace/synth.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#include "router_option.h"
#include "threads_option.h"

namespace grace::cli {
namespace {

constexpr int64_t kSynthTokens = 32768;
constexpr int64_t kChunkTokens = 65536;

struct PlanArgs {
  std::vector<std::string> traces;
  std::string model = "deepseek-v2-lite";
  std::string topology = "2x4";
  std::string policy = "grace";
  int redundant = -1;
  uint64_t seed = 1;
  double ratio = -1;
  int64_t batch_tokens = 4096;
  std::string batching = "trace";
  std::string target = "cover";
  std::string out;
  std::string dump_loads;  // write the profile's per-layer expert loads here
  int threads = 0;         // 0: one per core, up to 16
  bool json = false;
};

struct PlanResult {
  std::string policy;
  Placement placement;
  PlanSummary summary;
  ExpertMemory memory;
  double seconds = 0;
  std::string path;  // where it was written, if anywhere
};

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The per-layer expert loads the planners see (tokens that chose each expert), as JSON: what an
// external balancer (DeepSeek's EPLB: bench/plan-vs-eplb.sh) is given to plan on the same data.
std::string loads_json(const ModelSpec& model, const Profile& prof) {
  nlohmann::json j;
  j["model"] = model.name;
  j["num_layers"] = prof.num_layers;
  j["num_experts"] = prof.num_experts;
  j["tokens"] = prof.tokens;
  j["load"] = nlohmann::json::array();
  for (const auto& l : prof.layers) j["load"].push_back(l.load);
  return dump_json(j) + "\n";
}

// Fails early (before profiling) when the output cannot be written there.
void check_output_dir(const std::string& out, const char* flag = "-o") {
  if (out.empty()) return;
  check_output_path(out);  // also the per-policy names derived from -o
  auto parent = std::filesystem::path(out).parent_path();
  if (parent.empty()) parent = ".";
  GRACE_INPUT_CHECK(std::filesystem::is_directory(parent), "{} {}: folder {} does not exist", flag, quote_input(out),
                    quote_input(parent.string()));
  GRACE_INPUT_CHECK(!std::filesystem::is_directory(out), "{} {} is a folder, expected a file name", flag,
                    quote_input(out));
  check_can_create(out);
}

std::string output_path(const std::string& out, const std::string& policy, bool many) {
  if (!many) return out;
  std::string stem = out;
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".json") stem.resize(stem.size() - 5);
  return stem + "." + policy + ".json";
}

// Streams the traces into a profile; progress on stderr (a live line on a terminal, a line per
// quarter otherwise), for traces of 262,144 tokens or more.
Profile profile_traces(const PlanArgs& a, const ModelSpec& model, std::string& described) {
  TraceReader reader(a.traces, model.experts);
  const TraceShape& shape = reader.shape();
  std::string names;
  for (const auto& t : a.traces) names += (names.empty() ? "" : ", ") + t;
  GRACE_INPUT_CHECK(shape.num_layers == model.moe_layers && shape.top_k == model.top_k,
                    "trace '{}' has {} MoE layers, top-{} but model '{}' has {} MoE layers, top-{} (pick the "
                    "trace's model with --model)",
                    names, shape.num_layers, shape.top_k, model.name, model.moe_layers, model.top_k);
  described = fmt::format("{}: {} tokens in {} sequences", names, shape.tokens, shape.seqs);
  const bool tty = ::isatty(2) != 0;
  const bool big = shape.tokens >= (int64_t(1) << 18);
  int quarter = 0;
  auto t0 = std::chrono::steady_clock::now();
  Profile prof = stream_profile(reader, model.experts, kChunkTokens, a.threads, [&](const Profile& p) {
    const double done = shape.tokens > 0 ? double(p.tokens) / double(shape.tokens) : 1.0;
    if (tty && big) {
      std::fprintf(stderr, "\rprofiling: %lld / %lld tokens (%.0f%%)", (long long)p.tokens, (long long)shape.tokens,
                   100 * done);
    } else if (big && int(done * 4) > quarter) {
      quarter = int(done * 4);
      std::fprintf(stderr, "profiling: %lld / %lld tokens, %.1f s\n", (long long)p.tokens, (long long)shape.tokens,
                   since(t0));
    }
  });
  if (tty && big) std::fprintf(stderr, "\rprofiled %lld tokens in %.1f s%20s\n", (long long)prof.tokens, since(t0), "");
  return prof;
}

std::string compact_list(const std::vector<int>& v) {
  int total = 0, lo = v.empty() ? 0 : v[0], hi = lo;
  std::string s;
  for (int x : v) {
    total += x, lo = std::min(lo, x), hi = std::max(hi, x);
    s += (s.empty() ? "" : " ") + std::to_string(x);
  }
  return fmt::format("total {}, min {}, max {} per layer: {}", total, lo, hi, s);
}

int total_replicas(const PlanSummary& s) {
  int t = 0;
  for (int x : s.replicas_per_layer) t += x;
  return t;
}

void print_text(const PlanArgs& a, const ModelSpec& model, const Topology& topo, int slots, const std::string& input,
                const Profile& prof, double profile_s, const std::vector<PlanResult>& results) {
  std::printf("grace plan\n");
  std::printf("  model      %s: %d MoE layers x %d experts, top-%d, %.1f MB per expert\n", one_line(model.name).c_str(),
              model.moe_layers, model.experts, model.top_k, double(model.expert_bytes()) / 1e6);
  std::printf("  topology   %s: %d nodes x %d GPUs, %d expert slots per GPU (%d in all, %d experts)\n",
              one_line(topo.name).c_str(), topo.nodes, topo.gpus_per_node, slots, slots * topo.num_gpus(),
              model.experts);
  std::printf("  input      %s\n", input.c_str());
  std::printf("  profile    %lld tokens in %.2f s\n", (long long)prof.tokens, profile_s);
  std::printf("  options    policy %s, seed %llu, redundant %s, ratio %s, target router %s, threads %s\n",
              a.policy.c_str(), (unsigned long long)a.seed,
              a.redundant < 0 ? "default (one per GPU)" : std::to_string(a.redundant).c_str(),
              a.ratio < 0 ? "knee" : fmt::format("{}", a.ratio).c_str(), a.target.c_str(),
              a.threads == 0 ? "one per core" : std::to_string(a.threads).c_str());
  if (results.size() == 1) {
    const auto& r = results[0];
    const auto& s = r.summary;
    std::printf("\npolicy %s (planned in %.3f s)\n", r.policy.c_str(), r.seconds);
    std::printf("  replicas          %s\n", compact_list(s.replicas_per_layer).c_str());
    std::printf("  slots             %d used (most on one GPU) of %d per GPU\n", s.slots_used_max, s.slots_available);
    std::printf("  expert memory     %.2f instances per GPU per layer (fullest GPU), %+.1f%% vs one copy per expert\n",
                r.memory.instances_per_gpu, r.memory.extra_pct);
    std::printf("  affinity kept     %.1f%% inside GPUs, %.1f%% inside nodes\n", 100 * s.affinity_in_gpu,
                100 * s.affinity_in_node);
    std::printf("  predicted load    max/mean %.3f per GPU (mean over layers)\n", s.predicted_max_mean);
    std::printf("  hash              %016llx\n", (unsigned long long)placement_hash(r.placement));
    if (!r.path.empty()) std::printf("  written           %s\n", r.path.c_str());
    if (!a.dump_loads.empty()) std::printf("  written           %s (per-layer expert loads)\n", a.dump_loads.c_str());
    return;
  }
  std::printf("\n%-26s %9s %11s %9s %10s %11s %12s %14s %10s\n", "policy", "replicas", "slots used", "inst/GPU",
              "extra mem", "aff in GPU", "aff in node", "pred max/mean", "plan time");
  for (const auto& r : results) {
    const auto& s = r.summary;
    std::printf("%-26s %9d %7d/%-3d %9.2f %9.1f%% %10.1f%% %11.1f%% %14.3f %9.3fs\n", r.policy.c_str(),
                total_replicas(s), s.slots_used_max, s.slots_available, r.memory.instances_per_gpu, r.memory.extra_pct,
                100 * s.affinity_in_gpu, 100 * s.affinity_in_node, s.predicted_max_mean, r.seconds);
  }
  std::printf(
      "inst/GPU: expert instances on the fullest GPU per layer; extra mem: instances over one copy per "
      "expert\n");
  for (const auto& r : results)
    if (!r.path.empty()) std::printf("written %s\n", r.path.c_str());
  if (!a.dump_loads.empty()) std::printf("written %s (per-layer expert loads)\n", a.dump_loads.c_str());
}

void print_json(const ModelSpec& model, const Topology& topo, int slots, const PlanArgs& a, const std::string& input,
                const Profile& prof, double profile_s, const std::vector<PlanResult>& results) {
  nlohmann::json j;
  j["model"] = model.name;
  j["topology"] = {
      {"name", topo.name}, {"nodes", topo.nodes}, {"gpus_per_node", topo.gpus_per_node}, {"slots_per_gpu", slots}};
  j["input"] = a.traces.empty() ? nlohmann::json{{"synthetic", true}, {"tokens", kSynthTokens}, {"seed", a.seed}}
                                : nlohmann::json{{"traces", a.traces}};
  j["input_description"] = input;
  j["tokens"] = prof.tokens;
  j["profile_seconds"] = profile_s;
  j["options"] = {
      {"seed", a.seed}, {"redundant", a.redundant}, {"ratio", a.ratio}, {"target", a.target}, {"threads", a.threads}};
  j["plans"] = nlohmann::json::array();
  for (const auto& r : results) {
    const auto& s = r.summary;
    j["plans"].push_back({{"policy", r.policy},
                          {"replicas_per_layer", s.replicas_per_layer},
                          {"replicas", total_replicas(s)},
                          {"slots_used_max", s.slots_used_max},
                          {"slots_available", s.slots_available},
                          {"instances_per_gpu", r.memory.instances_per_gpu},
                          {"extra_memory_pct", r.memory.extra_pct},
                          {"affinity_in_gpu", s.affinity_in_gpu},
                          {"affinity_in_node", s.affinity_in_node},
                          {"predicted_max_mean", s.predicted_max_mean},
                          {"plan_seconds", r.seconds},
                          {"hash", fmt::format("{:016x}", placement_hash(r.placement))},
                          {"output", r.path.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.path)}});
  }
  std::printf("%s\n", dump_json(j).c_str());
}

void run_plan(const PlanArgs& a) {
  // 1. Everything that can be checked cheaply, first.
  const ModelSpec model = load_model(a.model);
  const Topology topo = parse_topology(a.topology);
  check_plan_cost(model, topo, a.redundant);  // GPUs x experts x layers, physical slots (core/cost_limits.h)
  GRACE_INPUT_CHECK(a.redundant >= -1, "--redundant {} must be >= 0", a.redundant);
  GRACE_INPUT_CHECK(a.ratio < 0 || a.ratio <= 1, "--ratio {} must be in [0, 1] (omit it to pick the knee)", a.ratio);
  GRACE_INPUT_CHECK(a.batch_tokens > 0, "--batch-tokens must be positive (got {})", a.batch_tokens);
  check_threads_option(a.threads);
  const Batching batching = parse_batching(a.batching);
  check_router_name(a.target, "--target");
  std::vector<std::string> policies;
  if (a.policy == "all") {
    policies = planner_names();
  } else {
    make_planner(a.policy);  // throws InputError listing the valid names
    policies = {a.policy};
  }
  if (!a.out.empty())
    for (const auto& name : policies) {
      const std::string path = output_path(a.out, name, policies.size() > 1);
      check_output_dir(path);
      GRACE_INPUT_CHECK(a.dump_loads.empty() ||
                            std::filesystem::weakly_canonical(a.dump_loads) != std::filesystem::weakly_canonical(path),
                        "--dump-loads {} is the path of a placement this command writes (-o {}); give another",
                        quote_input(a.dump_loads), quote_input(a.out));
    }
  check_output_dir(a.dump_loads, "--dump-loads");
  for (const auto& t : a.traces) {  // files must exist before the work; synthetic:... specs are checked here too
    ModelSpec sm;
    SynthOptions so;
    if (!parse_synthetic_spec(t, &sm, &so)) resolve_trace(t);
  }

  // 2. Profile.
  const bool tty = ::isatty(2) != 0;
  auto t0 = std::chrono::steady_clock::now();
  std::string input;
  Profile prof;
  if (a.traces.empty()) {
    SynthOptions so;
    so.tokens = kSynthTokens;
    so.seed = a.seed;
    so.with_weights = false;
    Trace trace = synthesize_trace(model, so);
    prof = build_profile(trace, a.threads);
    input = fmt::format(
        "built-in synthetic trace of {} ({} tokens, seed {}; no --trace given; profile time "
        "includes generating it)",
        model.name, trace.num_tokens(), a.seed);
  } else {
    prof = profile_traces(a, model, input);
  }
  const double profile_s = since(t0);

  // 3. Plan and validate every policy before writing anything.
  PlanOptions opt;
  opt.redundant_slots = a.redundant;
  opt.seed = a.seed;
  opt.ratio = a.ratio;
  opt.batch_tokens = a.batch_tokens;
  opt.batching = batching;
  opt.target_router = a.target;
  opt.threads = a.threads;
  PlanContext ctx{prof, model, topo, opt};
  const int slots = ctx.slots();
  std::vector<PlanResult> results;
  for (const auto& name : policies) {
    if (tty && policies.size() > 1) std::fprintf(stderr, "\rplanning %-20s", name.c_str());
    auto planner = make_planner(name);
    auto tp = std::chrono::steady_clock::now();
    PlanResult r;
    r.policy = name;
    r.placement = planner->plan(ctx);
    r.seconds = since(tp);
    validate_placement(r.placement, topo, model, name);
    r.summary = summarize_plan(r.placement, prof);
    r.memory = expert_memory(r.placement);
    results.push_back(std::move(r));
  }
  if (tty && policies.size() > 1) std::fprintf(stderr, "\r%30s\r", "");

  // 4. Write (every file, or none), then report.
  StagedFiles files;
  if (!a.dump_loads.empty()) files.write(a.dump_loads, loads_json(model, prof));
  for (auto& r : results) {
    if (a.out.empty()) continue;
    r.path = output_path(a.out, r.policy, policies.size() > 1);
    files.write(r.path, placement_to_json(r.placement));
  }
  files.commit();
  if (a.json)
    print_json(model, topo, slots, a, input, prof, profile_s, results);
  else
    print_text(a, model, topo, slots, input, prof, profile_s, results);
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto args = std::make_shared<PlanArgs>();
  auto* cmd = app.add_subcommand("plan", "Profile routing and plan an expert placement");
  cmd->add_option("--trace", args->traces,
                  "Routing trace: an ids .npy[.gz] file or a folder holding one (repeat to concatenate); "
                  "default: a built-in synthetic trace of the model");
  cmd->add_option("--model", args->model, "Model preset or JSON file (default deepseek-v2-lite)");
  cmd->add_option("--topology", args->topology, "NODESxGPUS[@preset], a preset or a JSON file (default 2x4)");
  std::string planners;
  for (const std::string& name : planner_names()) planners += (planners.empty() ? "" : ", ") + name;
  cmd->add_option("--policy", args->policy,
                  "Planner (" + planners + "), or 'all' to compare every planner (default grace)");
  cmd->add_option("--redundant", args->redundant, "Extra expert slots over the cluster (default: one per GPU)");
  cmd->add_option("--seed", args->seed, "Seed for planning and the synthetic trace (default 1)");
  cmd->add_option("--ratio", args->ratio, "grace-paper's controlled non-uniform ratio r (default: knee)");
  cmd->add_option("--batch-tokens", args->batch_tokens,
                  "Tokens per batch the placement will serve; grace judges its candidates on batches of this size")
      ->capture_default_str();
  cmd->add_option("--batching", args->batching,
                  std::string(kBatchingHelp) + "; grace judges its candidates on batches formed this way")
      ->capture_default_str();
  cmd->add_option("--target", args->target,
                  router_option_help("Router the placement will be served with (grace judges its candidate plans "
                                     "through it; default cover; sglang-static for an unpatched SGLang)"));
  cmd->add_option("-o,--output", args->out,
                  "Placement file to write; with --policy all, one <stem>.<policy>.json per policy");
  cmd->add_option("--dump-loads", args->dump_loads,
                  "Also write the profile's per-layer expert loads as JSON {\"load\": [layer][expert], ...}");
  cmd->add_option("--threads", args->threads, kThreadsHelp);
  cmd->add_flag("--json", args->json, "Print a JSON object instead of the report");
  cmd->callback([args] { run_plan(*args); });
}

}  // namespace grace::cli
