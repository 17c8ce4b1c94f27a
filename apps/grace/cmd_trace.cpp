// grace trace synth|stats|convert: make synthetic routing traces, print a trace's statistics,
// rewrite traces in grace's NumPy layout. Inputs are validated before anything is written.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"
#include "grace/error.h"
#include "grace/model.h"
#include "grace/synth.h"
#include "grace/trace_io.h"
#include "grace/trace_stats.h"

namespace grace::cli {
namespace {

struct SynthArgs {
  std::string model;
  int64_t tokens = 0;
  uint64_t seed = 1;
  int64_t seq_len = SynthOptions{}.mean_seq_len;
  int topics = SynthOptions{}.num_topics;
  bool no_weights = false;
  bool plain = false;
  std::string out;
};

struct StatsArgs {
  std::vector<std::string> traces;
  int experts = 0;
  int64_t window = 512;
  bool json = false;
};

struct ConvertArgs {
  std::vector<std::string> traces;
  int experts = 0;
  bool plain = false;
  std::string out;
};

void run_synth(const SynthArgs& a) {
  GRACE_INPUT_CHECK(a.tokens > 0, "--tokens must be positive, got {}", a.tokens);
  GRACE_INPUT_CHECK(a.seq_len > 0, "--seq-len must be positive, got {}", a.seq_len);
  GRACE_INPUT_CHECK(a.topics > 0, "--topics must be positive, got {}", a.topics);
  check_trace_output(a.out);  // before any work: a bad -o fails at once
  ModelSpec model = load_model(a.model);
  SynthOptions opt;
  opt.tokens = a.tokens;
  opt.seed = a.seed;
  opt.mean_seq_len = a.seq_len;
  opt.num_topics = a.topics;
  opt.with_weights = !a.no_weights;
  Trace trace = synthesize_trace(model, opt);
  write_trace(trace, a.out, !a.plain);
  std::printf("wrote %s: %lld tokens in %lld sequences, %d layers x %d experts, top-%d%s\n", a.out.c_str(),
              static_cast<long long>(trace.num_tokens()), static_cast<long long>(trace.num_seqs()), trace.num_layers,
              trace.num_experts, trace.top_k, trace.has_weights() ? ", with gate weights" : "");
}

void run_stats(const StatsArgs& a) {
  GRACE_INPUT_CHECK(a.experts >= 0, "--experts must be >= 0, got {}", a.experts);
  GRACE_INPUT_CHECK(a.window > 0, "--window must be positive, got {}", a.window);
  TraceReader reader(a.traces, a.experts, false);  // streamed: memory does not grow with the trace
  TraceStats s = compute_trace_stats(reader, a.window);
  if (a.json)
    std::printf("%s\n", trace_stats_json(s).c_str());
  else
    std::printf("%s", format_trace_stats(s).c_str());
}

// The output folder is replaced whole, so it may not be the folder a trace read here lives in
// (a file's folder, or the folder given). Links and other spellings of a folder are the same folder.
void check_not_an_input_folder(const std::string& out, const std::vector<std::string>& traces) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(out, ec)) return;
  for (const std::string& t : traces) {
    if (t.rfind("synthetic:", 0) == 0) continue;
    const fs::path p(t);
    const fs::path folder = fs::is_directory(p, ec) ? p : p.has_parent_path() ? p.parent_path() : fs::path(".");
    GRACE_INPUT_CHECK(!fs::equivalent(folder, out, ec),
                      "-o {}: is the folder of the input trace {}, and the output folder is replaced whole; write the "
                      "converted trace elsewhere",
                      quote_input(out), quote_input(t));
  }
}

void run_convert(const ConvertArgs& a) {
  GRACE_INPUT_CHECK(a.experts >= 0, "--experts must be >= 0, got {}", a.experts);
  check_trace_output(a.out);  // before any work: a bad -o fails at once
  check_not_an_input_folder(a.out, a.traces);
  TraceReader reader(a.traces, a.experts, true);  // streamed: memory does not grow with the trace
  const int64_t tokens = stream_trace(reader, a.out, !a.plain);
  std::printf("wrote %s: %lld tokens in %lld sequences\n", a.out.c_str(), static_cast<long long>(tokens),
              static_cast<long long>(reader.shape().seqs));
}

constexpr const char* kTraceHelp =
    "TRACE: a *topk_ids.npy[.gz] file (siblings *seq_offsets.npy and gate weights are found by name), a "
    "directory holding exactly one such file, or synthetic:MODEL[:TOKENS[:SEED]]. Several TRACEs "
    "concatenate (their layers and top-k must agree).";

}  // namespace

void add_trace_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("trace", "Make, inspect and convert routing traces");
  cmd->require_subcommand(1);

  auto synth = std::make_shared<SynthArgs>();
  auto* s = cmd->add_subcommand(
      "synth",
      "Write a synthetic routing trace whose statistics resemble real traces (skew drifting with each "
      "sequence's topic, co-activated expert clusters, adjacent-layer correlation, token locality); "
      "deterministic for a seed. Output: DIR/topk_ids.npy.gz, seq_offsets.npy, topk_weights_f32.npy.gz");
  s->add_option(
       "--model", synth->model,
       "Model preset (" +
           [] {
             std::string n;
             for (const auto& m : model_preset_names()) n += (n.empty() ? "" : ", ") + m;
             return n;
           }() +
           ") or model JSON file")
      ->required();
  s->add_option("--tokens", synth->tokens, "Number of tokens")->required();
  s->add_option("--seed", synth->seed, "Random seed")->capture_default_str();
  s->add_option("--seq-len", synth->seq_len, "Mean sequence length (lengths vary 0.25x..1.75x)")->capture_default_str();
  s->add_option("--topics", synth->topics, "Number of latent topics")->capture_default_str();
  s->add_flag("--no-weights", synth->no_weights, "Do not write gate weights");
  s->add_flag("--plain", synth->plain, "Write uncompressed .npy instead of .npy.gz");
  s->add_option("-o,--out", synth->out,
                "Output folder: topk_ids.npy.gz, seq_offsets.npy and topk_weights_f32.npy.gz (.npy with --plain; no "
                "weights with --no-weights), written whole; an existing folder is replaced only when it holds "
                "nothing but these names")
      ->required();
  s->callback([synth] { run_synth(*synth); });

  auto stats = std::make_shared<StatsArgs>();
  auto* st = cmd->add_subcommand(
      "stats",
      "Print a trace's routing statistics: per-layer load max/mean and Gini, skew in windows of B tokens, "
      "share of hot expert pairs, adjacent-layer successor lift, consecutive-token overlap (definitions in "
      "include/grace/trace_stats.h)");
  st->add_option("TRACE", stats->traces, kTraceHelp)->required();
  st->add_option("--experts", stats->experts, "Experts per layer (ids must be smaller); 0: max id + 1")
      ->capture_default_str();
  st->add_option("--window", stats->window, "Window length B in tokens for batch-level skew")->capture_default_str();
  st->add_flag("--json", stats->json, "Print one JSON object instead of a table");
  st->callback([stats] { run_stats(*stats); });

  auto conv = std::make_shared<ConvertArgs>();
  auto* cv = cmd->add_subcommand("convert",
                                 "Read traces (concatenated) and write them in grace's layout to a directory, "
                                 "with gate weights as float32 when all inputs have them");
  cv->add_option("TRACE", conv->traces, kTraceHelp)->required();
  cv->add_option("--experts", conv->experts, "Experts per layer (ids must be smaller); 0: no check")
      ->capture_default_str();
  cv->add_flag("--plain", conv->plain, "Write uncompressed .npy instead of .npy.gz");
  cv->add_option("-o,--out", conv->out,
                 "Output folder, written whole as trace synth writes one; an existing folder is replaced only when "
                 "it holds nothing but a trace's names, and never the folder of an input trace")
      ->required();
  cv->callback([conv] { run_convert(*conv); });

  add_trace_import_command(*cmd);
}

}  // namespace grace::cli
