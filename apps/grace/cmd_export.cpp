// grace export: a grace placement file as a serving system's expert map (SGLang
// --init-expert-location, vLLM EPLB state); stdout unless -o, which is written atomically.
// grace validate: checks a placement file against a model and a topology (exit 0 when valid).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "checked_placement.h"
#include "commands.h"
#include "core/atomic_file.h"
#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/topology.h"

namespace grace::cli {
namespace {

struct ExportArgs {
  std::string placement;
  std::string format;
  std::string out;
};

struct ValidateArgs {
  std::string placement;
  std::string model;     // default: the placement's model, when it is a preset
  std::string topology;  // default: the placement's NODESxGPUS with the paper constants
};

void run_export(const ExportArgs& a) {
  const ExportFormat fmt = parse_export_format(a.format);
  const Placement p = load_placement(a.placement);
  const std::string text = export_placement(p, fmt);
  if (a.out.empty())
    std::fwrite(text.data(), 1, text.size(), stdout);
  else
    write_file_atomic(a.out, text);
}

void run_validate(const ValidateArgs& a) {
  const CheckedPlacement checked = load_checked_placement(a.placement, a.model, a.topology);
  const Placement& p = checked.placement;
  const ModelSpec& model = checked.model;
  const Topology& topo = checked.topo;
  int instances = 0;
  for (int l = 0; l < p.num_layers; ++l) instances += p.num_instances(l);
  std::printf("placement '%s' is valid for model %s on topology %s: %d layers x %d experts, %d instances "
              "(%d replicas), %d slots per GPU, policy %s, hash %016llx\n",
              a.placement.c_str(), model.name.c_str(), topo.name.c_str(), p.num_layers, p.num_experts, instances,
              instances - p.num_layers * p.num_experts, p.slots_per_gpu, p.policy.c_str(),
              (unsigned long long)placement_hash(p));
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "Export a placement for a serving system (sglang, vllm)");
  cmd->add_option("--placement", args->placement, "grace placement JSON")->required();
  cmd->add_option("--format", args->format, "sglang | vllm")->required();
  cmd->add_option("-o,--output", args->out, "Output file (default: stdout)");
  cmd->callback([args] { run_export(*args); });
}

void add_validate_command(CLI::App& app) {
  auto args = std::make_shared<ValidateArgs>();
  auto* cmd = app.add_subcommand("validate", "Check a placement file against a model and a topology");
  cmd->add_option("--placement", args->placement, "grace placement JSON")->required();
  cmd->add_option("--model", args->model, "Model preset or JSON file (default: the placement's model)");
  cmd->add_option("--topology", args->topology, "Topology spec (default: the placement's NODESxGPUS)");
  cmd->callback([args] { run_validate(*args); });
}

}  // namespace grace::cli
