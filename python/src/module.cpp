// grace._core: the C++ side of the Python package (python/grace/__init__.py wraps it).
// InputError (bad input) becomes ValueError with grace's one-line message.
#include "grace/error.h"
#include "grace/trace.h"
#include "py_common.h"

namespace grace::py {

std::vector<int64_t> resolve_seq_offsets(const pyb::object& seq_offsets, int64_t tokens, const std::string& who) {
  if (seq_offsets.is_none()) return {0, tokens};
  using i64_array = pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast>;
  i64_array offs = seq_offsets.cast<i64_array>();
  GRACE_INPUT_CHECK(offs.ndim() == 1 && offs.shape(0) >= 2,
                    "{}: seq_offsets must be [sequences + 1] (at least [0, tokens]), got shape of {} dimensions", who,
                    offs.ndim());
  std::vector<int64_t> out(offs.data(), offs.data() + offs.shape(0));
  check_seq_offsets(out, tokens, who + ": seq_offsets", "topk_ids");
  return out;
}

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
