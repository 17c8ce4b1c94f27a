// The inputs of one compare run: model, topology, the profile of the part of the trace plans are
// made on, and a reader of the part they are judged on. Internal to the experiment module.
//
// Streamed: the trace is never held in memory (a synthetic trace is, as it is generated). The
// plan part is read once into the profile; the evaluation part is read again for every row
// (TraceReader::select_ranges cuts both out of the same files). Memory: one chunk, the sequence
// offsets, the profile and one row's per-(batch, layer) records.
#ifndef GRACE_EXPERIMENT_COMPARE_INPUT_H_
#define GRACE_EXPERIMENT_COMPARE_INPUT_H_

#include <memory>

#include "grace/compare.h"
#include "grace/experiment.h"
#include "grace/model.h"
#include "grace/profile.h"
#include "grace/topology.h"
#include "grace/trace_io.h"

namespace grace::experiment {

struct CompareInput {
  ModelSpec model;
  Topology topo;
  Profile profile;                    // of the plan part
  std::unique_ptr<TraceReader> eval;  // the evaluated part; rewind before each pass
};

// Checks the options and the cost (core/cost_limits.h) before reading, validates the whole
// trace, profiles the plan part, and fills r's description fields (model, topology, sources,
// token counts, batch size, seed).
CompareInput load_compare_input(const CompareOptions& o, CompareResult& r);

}  // namespace grace::experiment

#endif  // GRACE_EXPERIMENT_COMPARE_INPUT_H_
