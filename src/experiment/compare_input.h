// The inputs of one compare run: model, topology, and the trace cut into the part plans are made
// on and the part they are judged on. Internal to the experiment module.
#ifndef GRACE_EXPERIMENT_COMPARE_INPUT_H_
#define GRACE_EXPERIMENT_COMPARE_INPUT_H_

#include "grace/compare.h"
#include "grace/experiment.h"
#include "grace/model.h"
#include "grace/profile.h"
#include "grace/topology.h"
#include "grace/trace.h"

namespace grace::experiment {

struct CompareInput {
  ModelSpec model;
  Topology topo;
  Trace plan_trace, eval_trace;
  Profile profile;  // of plan_trace
};

// Checks the options, loads or synthesises the traces, splits them, profiles the plan part, and
// fills r's description fields (model, topology, sources, token counts, batch size, seed).
CompareInput load_compare_input(const CompareOptions& o, CompareResult& r);

}  // namespace grace::experiment

#endif  // GRACE_EXPERIMENT_COMPARE_INPUT_H_
