// Shared by the grace._core binding files: numpy array helpers and the init functions.
#ifndef GRACE_PYTHON_PY_COMMON_H_
#define GRACE_PYTHON_PY_COMMON_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "grace/model.h"

namespace grace::py {

namespace pyb = pybind11;

// A preset name or JSON path; empty: generic_model(layers, experts, top_k).
ModelSpec resolve_model(const std::string& model, int layers, int experts, int top_k);

// seq_offsets for a stream of `tokens` top-k rows: None -> {0, tokens} (one sequence), else an int
// array [sequences + 1] checked as a trace's seq_offsets.npy; `who` ("plan", "replan") leads errors.
std::vector<int64_t> resolve_seq_offsets(const pyb::object& seq_offsets, int64_t tokens, const std::string& who);

void init_plan(pyb::module_& m);
void init_router(pyb::module_& m);
void init_replan(pyb::module_& m);  // after init_plan: adds Placement.replan

}  // namespace grace::py

#endif  // GRACE_PYTHON_PY_COMMON_H_
