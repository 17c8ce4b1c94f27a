// A placement file loaded for a command, with its model and topology resolved (from the flags,
// else from the file) and the placement validated against both. Shared by the commands that
// read placements (evaluate, simulate, validate, export, replan, run).
#ifndef GRACE_APPS_CHECKED_PLACEMENT_H_
#define GRACE_APPS_CHECKED_PLACEMENT_H_

#include <string>

#include "grace/model.h"
#include "grace/placement.h"
#include "grace/topology.h"

namespace grace::cli {

struct CheckedPlacement {
  Placement placement;
  ModelSpec model;
  Topology topo;
};

// model_arg / topology_arg empty: the placement's model (a preset name only: the file's "model"
// field is never opened as a path), and its nodes x GPUs with the paper's constants. The
// placement file is read by the one JSON reader (size cap, duplicate and unknown keys rejected)
// and its cost checked (core/cost_limits.h). Throws InputError naming the file and the problem.
// The model of a placement: --model when given, else the placement's "model" field as a preset.
ModelSpec placement_model(const Placement& p, const std::string& path, const std::string& model_arg);

CheckedPlacement load_checked_placement(const std::string& path, const std::string& model_arg,
                                        const std::string& topology_arg);

}  // namespace grace::cli

#endif  // GRACE_APPS_CHECKED_PLACEMENT_H_
