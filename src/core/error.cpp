#include "grace/error.h"

namespace grace {

void fail_internal(const char* file, int line, const char* cond, const std::string& msg) {
  throw Error(fmt::format("internal error at {}:{}: check '{}' failed{}{}", file, line, cond,
                          msg.empty() ? "" : ": ", msg));
}

}  // namespace grace
