// grace._core: the C++ side of the Python package (python/grace/__init__.py wraps it).
// InputError (bad input) becomes ValueError with grace's one-line message.
#include "grace/error.h"
#include "py_common.h"

namespace grace::py {

ModelSpec resolve_model(const std::string& model, int layers, int experts, int top_k) {
  if (!model.empty()) return load_model(model);
  // Without a model the input's shape is the model: say so in the input's terms.
  GRACE_INPUT_CHECK(layers >= 1 && experts >= 1, "plan: the input is empty ({} layers x {} experts)", layers, experts);
  GRACE_INPUT_CHECK(layers <= 4096 && experts <= 65535,
                    "plan: the input has {} layers x {} experts; grace plans at most 4096 layers of at most 65535 "
                    "experts",
                    layers, experts);
  ModelSpec m = generic_model(layers, experts, std::max(1, std::min(top_k, experts)));
  m.validate();
  return m;
}

}  // namespace grace::py

PYBIND11_MODULE(_core, m) {
  m.doc() = "grace C++ core: planning, placements, exports and routing";
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const grace::InputError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  grace::py::init_plan(m);
  grace::py::init_router(m);
  grace::py::init_replan(m);
}
