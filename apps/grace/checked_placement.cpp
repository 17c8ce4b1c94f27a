#include "checked_placement.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>

#include "grace/error.h"
#include "grace/placement_io.h"

namespace grace::cli {

ModelSpec placement_model(const Placement& p, const std::string& path, const std::string& model_arg) {
  if (!model_arg.empty()) return load_model(model_arg);
  GRACE_INPUT_CHECK(!p.model.empty(), "placement {} names no model: give --model", quote_input(path));
  // The file's "model" is a name, never a path: a placement must not make grace open a file the
  // user did not name on the command line.
  const auto presets = model_preset_names();
  GRACE_INPUT_CHECK(std::find(presets.begin(), presets.end(), p.model) != presets.end(),
                    "placement {}: its \"model\" field {} is not a preset ({}); give the model with --model "
                    "(a preset or a model JSON file)",
                    quote_input(path), quote_input(p.model), fmt::join(presets, ", "));
  return load_model(p.model);
}

CheckedPlacement load_checked_placement(const std::string& path, const std::string& model_arg,
                                        const std::string& topology_arg) {
  Placement p = load_placement(path);
  ModelSpec model = placement_model(p, path, model_arg);
  Topology topo = parse_topology(topology_arg.empty() ? fmt::format("{}x{}", p.nodes, p.gpus_per_node) : topology_arg);
  validate_placement(p, topo, model, path);
  return {std::move(p), std::move(model), std::move(topo)};
}

}  // namespace grace::cli
