// Inputs shared by `grace replan` and `grace drift`: the placement checked against the model and
// topology flags (a placement made for another model or cluster shape is refused by name), the
// routing trace checked against the placement, and the move budget.
#ifndef GRACE_APPS_REPLAN_INPUT_H_
#define GRACE_APPS_REPLAN_INPUT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checked_placement.h"
#include "grace/model.h"
#include "grace/trace_io.h"

namespace CLI {
class Option;
}

namespace grace::cli {

// load_checked_placement, plus: --model naming another model than the placement's, or
// --topology of another shape than the placement's, is an InputError.
CheckedPlacement load_replan_placement(const std::string& path, const std::string& model_arg,
                                       const std::string& topology_arg);

// Opens the traces for streaming and checks them against the placement (layers, top-k) and for
// tokens (an empty stream is an InputError), from their headers, before any data is read; ids are
// checked against the placement's experts as the reader reads them.
std::unique_ptr<TraceReader> open_checked_trace(const std::vector<std::string>& traces, const CheckedPlacement& cp,
                                                const std::string& placement_path);

// Move budget from --max-moves / --max-move-bytes (at most one; neither: unbounded, -1).
// Negative values are InputErrors.
int64_t move_budget(const CLI::Option* moves_opt, int64_t moves, const CLI::Option* bytes_opt, double bytes,
                    int64_t expert_bytes);

// --move-break-even: "auto" is move_break_even(model, horizon_tokens) (grace/replan.h), "off" is 0,
// else a number >= 0 of node visits per token a move must save. Anything else is an InputError.
double parse_break_even(const std::string& value, const ModelSpec& model, double horizon_tokens, const char* flag);

// Fails early when `out` cannot be written (missing folder, a folder given).
void check_output_file(const std::string& out, const char* flag);

}  // namespace grace::cli

#endif  // GRACE_APPS_REPLAN_INPUT_H_
