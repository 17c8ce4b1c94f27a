// grace export: a grace placement file as a serving system's expert map (SGLang
// --init-expert-location, SGLang's static dispatch map, vLLM's initial expert map); stdout
// unless -o, which is written atomically. For sglang it prints the server flags the file needs.
// grace validate: checks a placement file against a model and a topology (exit 0 when valid),
// or, with --for sglang FILE, an --init-expert-location file the way SGLang will read it.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "checked_placement.h"
#include "commands.h"
#include "core/atomic_file.h"
#include "core/json_file.h"
#include "grace/error.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/serving.h"
#include "grace/topology.h"

namespace grace::cli {
namespace {

struct ExportArgs {
  std::string placement;
  std::string format;
  std::string out;
  std::string model;
  std::string topology;
  bool json = false;
};

struct ValidateArgs {
  std::string placement;
  std::string model;     // default: the placement's model, when it is a preset
  std::string topology;  // default: the placement's NODESxGPUS with the paper constants
  std::string target;    // --for: "" or "sglang"
  std::string file;      // the serving file checked with --for
  int ep_size = -1;    // -1: not given
  int redundant = -1;  // -1: not given
  bool json = false;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void run_export(const ExportArgs& a) {
  const ExportFormat fmt = parse_export_format(a.format);
  GRACE_INPUT_CHECK(!a.json || !a.out.empty(), "--json: needs -o (stdout would hold both the file and the JSON)");
  // SGLang reads --init-expert-location as a file only when it ends in .json or .pt.
  GRACE_INPUT_CHECK(fmt != ExportFormat::kSglang || a.out.empty() || ends_with(a.out, ".json"),
                    "-o '{}': SGLang reads --init-expert-location as a file only if the name ends in .json "
                    "(otherwise it parses the argument itself as JSON)",
                    a.out);
  // The placement is validated as `grace validate` does; a model name that is not a preset is
  // fine for vllm (a generic model of the file's shape), but sglang needs the dense layers.
  const Placement p = load_placement(a.placement);
  CheckedPlacement checked;
  bool known_model = true;
  // The file's "model" is a preset name, never opened as a path (as in checked_placement.cpp).
  const auto presets = model_preset_names();
  if (!a.model.empty()) {
    checked.model = load_model(a.model);
  } else if (std::find(presets.begin(), presets.end(), p.model) != presets.end()) {
    checked.model = load_model(p.model);
  } else {
    known_model = false;
    checked.model = generic_model(p.num_layers, p.num_experts, 1);
  }
  checked.topo =
      parse_topology(a.topology.empty() ? std::to_string(p.nodes) + "x" + std::to_string(p.gpus_per_node) : a.topology);
  validate_placement(p, checked.topo, checked.model, a.placement);
  GRACE_INPUT_CHECK(known_model || fmt == ExportFormat::kVllm,
                    "placement {}: model {} is not a preset: give "
                    "--model (SGLang's rows count the model's dense layers)",
                    quote_input(a.placement), quote_input(p.model));
  const PhysicalLayout lay = [&] {
    try {
      return physical_layout(p);
    } catch (const InputError& e) {  // the spare-slot fill's cost check: name the file
      throw InputError(fmt::format("placement {}: {}", quote_input(a.placement), e.what()));
    }
  }();
  SglangExport sg;
  std::string text;
  if (fmt == ExportFormat::kSglang) {
    sg = export_sglang(p, checked.model);
    text = sg.json;
  } else {
    text = export_placement(p, fmt, checked.model);
  }
  if (a.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    // The flags line only once the file is really out (a failed stdout is main's one error line).
    GRACE_INPUT_CHECK(std::fflush(stdout) == 0 && !std::ferror(stdout), "cannot write to standard output: {}",
                      std::strerror(errno ? errno : EIO));
    if (fmt == ExportFormat::kSglang) std::fprintf(stderr, "SGLang flags: %s\n", sglang_flags(sg, "FILE.json").c_str());
    return;
  }
  write_file_atomic(a.out, text);
  const int rows = fmt == ExportFormat::kVllm ? p.num_layers : checked.model.dense_layers + p.num_layers;
  std::string flags;
  if (fmt == ExportFormat::kSglang) flags = sglang_flags(sg, a.out);
  if (fmt == ExportFormat::kVllm)
    flags = "--enable-expert-parallel --enable-eplb --eplb-config '{\"num_redundant_experts\": " +
            std::to_string(lay.redundant()) + ", \"initial_expert_map_path\": \"" + a.out +
            "\"}'  (needs a vLLM build with initial_expert_map_path: vllm-project/vllm#49572, unmerged)";
  if (fmt == ExportFormat::kSglangDispatch)
    flags =
        "none: load row [ep_rank] into ExpertLocationMetadata.logical_to_rank_dispatch_physical_map "
        "(a patch to SGLang; see docs/serving.md), next to the matching --init-expert-location file";
  if (a.json) {
    nlohmann::json j = {{"format", a.format},
                        {"output", a.out},
                        {"rows", rows},
                        {"dense_layers", checked.model.dense_layers},
                        {"moe_layers", p.num_layers},
                        {"num_logical", p.num_experts},
                        {"num_physical", lay.num_physical()},
                        {"redundant", lay.redundant()},
                        {"ep_size", lay.num_gpus()},
                        {"spare_slots_filled", lay.spare_slots_filled},
                        {"flags", flags}};
    std::printf("%s\n", dump_json(j, 2).c_str());
    return;
  }
  if (fmt == ExportFormat::kSglangDispatch)
    std::printf("wrote %s: %d ranks x %d rows x %d logical experts -> physical ids of %d (%d experts + %d redundant)\n",
                a.out.c_str(), lay.num_gpus(), rows, p.num_experts, lay.num_physical(), p.num_experts, lay.redundant());
  else
    std::printf("wrote %s: %d rows x %d physical experts (%d experts + %d redundant) over %d GPUs\n", a.out.c_str(),
                rows, lay.num_physical(), p.num_experts, lay.redundant(), lay.num_gpus());
  if (lay.spare_slots_filled > 0)
    std::printf("%d empty slots of the placement hold extra replicas (serving systems need every slot filled)\n",
                lay.spare_slots_filled);
  std::printf("flags: %s\n", flags.c_str());
}

void run_validate_sglang(const ValidateArgs& a) {
  GRACE_INPUT_CHECK(!a.file.empty(), "validate --for sglang: give the --init-expert-location file");
  GRACE_INPUT_CHECK(!a.model.empty(), "validate --for sglang: give --model (the served model's preset or JSON)");
  GRACE_INPUT_CHECK(a.placement.empty(),
                    "validate --for sglang checks FILE as SGLang reads it; --placement is not used there (check a "
                    "placement without --for)");
  GRACE_INPUT_CHECK(a.ep_size == -1 || a.ep_size >= 1, "validate --for sglang: --ep-size {} must be >= 1", a.ep_size);
  int ep = a.ep_size;
  if (ep < 0) {
    GRACE_INPUT_CHECK(!a.topology.empty(), "validate --for sglang: give --ep-size (or --topology NxG)");
    ep = parse_topology(a.topology).num_gpus();
  }
  const ModelSpec model = load_model(a.model);
  GRACE_INPUT_CHECK(ends_with(a.file, ".json"),
                    "'{}': SGLang reads --init-expert-location as a JSON file only if "
                    "its name ends in .json",
                    a.file);
  const SglangFileCheck c = check_sglang_file(read_file(a.file), model, ep, a.redundant, a.file);
  SglangExport e;
  e.redundant = c.redundant;
  e.ep_size = c.ep_size;
  if (a.json) {
    nlohmann::json j = {{"file", a.file},
                        {"valid", true},
                        {"rows", c.num_layers},
                        {"num_physical", c.num_physical},
                        {"redundant", c.redundant},
                        {"ep_size", c.ep_size},
                        {"max_copies", c.max_copies},
                        {"flags", sglang_flags(e, a.file)}};
    std::printf("%s\n", dump_json(j, 2).c_str());
    return;
  }
  std::printf(
      "'%s' is valid for SGLang with model %s: %d rows x %d physical experts (%d + %d redundant), ep size %d, "
      "at most %d copies of an expert\nflags: %s\n",
      a.file.c_str(), model.name.c_str(), c.num_layers, c.num_physical, model.experts, c.redundant, c.ep_size,
      c.max_copies, sglang_flags(e, a.file).c_str());
}

void run_validate(const ValidateArgs& a) {
  if (!a.target.empty()) {
    GRACE_INPUT_CHECK(a.target == "sglang", "--for: unknown target '{}' (sglang)", a.target);
    return run_validate_sglang(a);
  }
  GRACE_INPUT_CHECK(a.file.empty(), "validate: {} is checked only with --for sglang (a placement: --placement)",
                    quote_input(a.file));
  GRACE_INPUT_CHECK(a.ep_size == -1 && a.redundant == -1,
                    "validate: --ep-size and --redundant apply only with --for sglang FILE");
  GRACE_INPUT_CHECK(!a.placement.empty(), "validate: give --placement (or --for sglang FILE)");
  const CheckedPlacement checked = load_checked_placement(a.placement, a.model, a.topology);
  const Placement& p = checked.placement;
  const ModelSpec& model = checked.model;
  const Topology& topo = checked.topo;
  int instances = 0;
  for (int l = 0; l < p.num_layers; ++l) instances += p.num_instances(l);
  if (a.json) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", (unsigned long long)placement_hash(p));
    nlohmann::json j = {{"placement", a.placement},
                        {"valid", true},
                        {"model", model.name},
                        {"topology", topo.name},
                        {"layers", p.num_layers},
                        {"experts", p.num_experts},
                        {"instances", instances},
                        {"replicas", instances - p.num_layers * p.num_experts},
                        {"slots_per_gpu", p.slots_per_gpu},
                        {"policy", p.policy},
                        {"hash", hash}};
    std::printf("%s\n", dump_json(j, 2).c_str());
    return;
  }
  std::printf(
      "placement '%s' is valid for model %s on topology %s: %d layers x %d experts, %d instances "
      "(%d replicas), %d slots per GPU, policy %s, hash %016llx\n",
      one_line(a.placement).c_str(), one_line(model.name).c_str(), one_line(topo.name).c_str(), p.num_layers,
      p.num_experts, instances, instances - p.num_layers * p.num_experts, p.slots_per_gpu, one_line(p.policy).c_str(),
      (unsigned long long)placement_hash(p));
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "Export a placement for a serving system (sglang, sglang-dispatch, vllm)");
  cmd->add_option("--placement", args->placement, "grace placement JSON")->required();
  cmd->add_option("--format", args->format,
                  "sglang (--init-expert-location .json) | sglang-dispatch (static dispatch map, needs a patch) | "
                  "vllm (initial_expert_map_path, needs an unmerged vLLM PR)")
      ->required();
  cmd->add_option("-o,--output", args->out, "Output file (default: stdout); sglang needs a name ending in .json");
  cmd->add_option("--model", args->model, "Model preset or JSON file (default: the placement's model)");
  cmd->add_option("--topology", args->topology, "Topology spec (default: the placement's NODESxGPUS)");
  cmd->add_flag("--json", args->json, "Print what was written and the server flags as JSON (needs -o)");
  cmd->callback([args] { run_export(*args); });
}

void add_validate_command(CLI::App& app) {
  auto args = std::make_shared<ValidateArgs>();
  auto* cmd = app.add_subcommand("validate",
                                 "Check a placement file against a model and a topology, or a serving "
                                 "file (--for sglang FILE) as the serving system will read it");
  cmd->add_option("--placement", args->placement, "grace placement JSON");
  cmd->add_option("--model", args->model,
                  "Model preset or JSON file (default: the placement's model; required with --for sglang)");
  cmd->add_option("--topology", args->topology, "Topology spec (default: the placement's NODESxGPUS)");
  cmd->add_option("--for", args->target, "Check FILE for a serving system: sglang");
  cmd->add_option("file", args->file, "With --for sglang: the --init-expert-location .json file");
  cmd->add_option("--ep-size", args->ep_size, "With --for sglang: the server's --ep-size (or give --topology)");
  cmd->add_option(
      "--redundant", args->redundant,
      "With --for sglang: the server's --ep-num-redundant-experts (default: what the file's width implies)");
  cmd->add_flag("--json", args->json, "Print the result as JSON");
  cmd->callback([args] { run_validate(*args); });
}

}  // namespace grace::cli
