// grace compare: runs the standard set of (planner, router, comm) combinations on one trace,
// out of sample, prints the table and writes DIR/report.md, DIR/report.html, DIR/results.json
// (the folder whole or not at all). The trace is streamed (src/experiment/compare_input.h).
// --sweep-memory adds the memory-traffic trade-off (grace/experiment.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "batching_option.h"
#include "commands.h"
#include "core/staged_dir.h"
#include "grace/compare.h"
#include "grace/error.h"
#include "grace/experiment.h"
#include "threads_option.h"

namespace grace::cli {
namespace {

struct CompareArgs {
  CompareOptions opt;
  std::string batching = "trace";
  std::string split = "even-odd";
  std::string out_dir;
  bool json = false;
};

void run_compare_cmd(const CompareArgs& a) {
  // The output folder is checked before the work (run_compare checks the cost before planning);
  // the reports are staged and renamed into place at the end, so an interrupted or failed run
  // leaves nothing.
  CompareOptions opt = a.opt;
  opt.batching = parse_batching(a.batching);
  opt.split = parse_split_rule(a.split);
  check_threads_option(opt.threads);
  check_output_folder(a.out_dir, compare_report_names());
  CompareResult r = run_compare(opt, [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  });
  write_compare_reports(r, a.out_dir);
  if (a.json) {
    std::printf("%s\n", compare_json(r).c_str());
  } else {
    std::printf("%s", format_compare_table(r).c_str());
    std::printf("wrote %s/report.md, %s/report.html, %s/results.json\n", a.out_dir.c_str(), a.out_dir.c_str(),
                a.out_dir.c_str());
  }
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand("compare",
                                 "Plan, route, evaluate and simulate the standard policy combinations; write reports");
  cmd->add_option("--trace", a->opt.traces,
                  "Routing trace to evaluate on (repeat to concatenate); "
                  "default: the model's synthetic trace");
  cmd->add_option("--plan-trace", a->opt.plan_traces,
                  "Trace to plan on (repeatable); default: the --trace is split as --split says");
  cmd->add_option("--split", a->split,
                  "How the --trace is cut without --plan-trace: even-odd (even-indexed sequences plan, odd-indexed "
                  "ones are evaluated) | halves (each trace's first half of sequences plans, its second half is "
                  "evaluated: earlier traffic plans for later traffic)")
      ->capture_default_str();
  cmd->add_option("--model", a->opt.model,
                  "Model preset or JSON (default: inferred from the trace; "
                  "deepseek-v2-lite for the synthetic trace)");
  cmd->add_option("--topology", a->opt.topology, "Topology: 2x4 (paper constants), 2x4@h200, h200 or JSON")
      ->capture_default_str();
  cmd->add_option("--batch-tokens", a->opt.batch_tokens, "Tokens per batch")->capture_default_str();
  cmd->add_option("--batching", a->batching, kBatchingHelp)->capture_default_str();
  cmd->add_option("--seed", a->opt.seed, "Seed for the planners, routers and the synthetic trace")
      ->capture_default_str();
  cmd->add_option("--synth-tokens", a->opt.synth_tokens, "Tokens of the synthetic trace")->capture_default_str();
  cmd->add_option("-o,--out", a->out_dir, "Output directory for report.md, report.html, results.json")->required();
  CLI::Option* sweep =
      cmd->add_flag("--sweep-memory", a->opt.sweep_memory,
                    "Also plan grace and eplb (tar, hierarchical) at several extra expert memory levels (--sweep-pct) "
                    "and report traffic, load and simulated time against memory (table + charts)");
  cmd->add_option("--sweep-pct", a->opt.sweep_pcts,
                  "Extra expert memory levels of --sweep-memory, in % of one "
                  "copy per expert (repeatable)")
      ->capture_default_str()
      ->needs(sweep);
  cmd->add_option("--threads", a->opt.threads, kThreadsHelp);
  cmd->add_flag("--json", a->json, "Print results.json to stdout instead of the table");
  cmd->callback([a] { run_compare_cmd(*a); });
}

}  // namespace grace::cli
