// CommScheme: how a MoE layer's all-to-all is organised, shared by the evaluator, the simulator
// and the engine. flat: one all-to-all over every GPU. hierarchical: one exchange per
// destination node first (to the GPU with the sender's local rank there), then one inside the
// node. Definitions of the helpers are in src/eval/eval_report.cpp.
#ifndef GRACE_COMM_SCHEME_H_
#define GRACE_COMM_SCHEME_H_

#include <string>

namespace grace {

enum class CommScheme { kFlat, kHierarchical };
CommScheme parse_comm_scheme(const std::string& name);  // "flat" | "hierarchical"; InputError otherwise
const char* comm_scheme_name(CommScheme c);

}  // namespace grace

#endif  // GRACE_COMM_SCHEME_H_
