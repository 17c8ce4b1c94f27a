#include "checked_placement.h"

#include <fmt/core.h>

#include "grace/error.h"
#include "grace/placement_io.h"

namespace grace::cli {

CheckedPlacement load_checked_placement(const std::string& path, const std::string& model_arg,
                                        const std::string& topology_arg) {
  Placement p = load_placement(path);
  GRACE_INPUT_CHECK(!model_arg.empty() || !p.model.empty(), "placement '{}' names no model: give --model", path);
  ModelSpec model = load_model(model_arg.empty() ? p.model : model_arg);
  Topology topo =
      parse_topology(topology_arg.empty() ? fmt::format("{}x{}", p.nodes, p.gpus_per_node) : topology_arg);
  validate_placement(p, topo, model, path);
  return {std::move(p), std::move(model), std::move(topo)};
}

}  // namespace grace::cli
