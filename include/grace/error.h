// Errors in grace come in two tiers.
//
// InputError: something a user gave us is wrong (a file, a flag, a spec). The message names
// the input and the problem; the CLI prints it on one line and exits with code 2. Throw it
// with GRACE_INPUT_CHECK or fail_input().
//
// Error (and GRACE_CHECK): a broken internal invariant, i.e. a bug in grace. The CLI exits 1.
#ifndef GRACE_ERROR_H_
#define GRACE_ERROR_H_

#include <fmt/core.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace grace {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InputError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail_input(fmt::format_string<Args...> f, Args&&... args) {
  throw InputError(fmt::format(f, std::forward<Args>(args)...));
}

[[noreturn]] void fail_internal(const char* file, int line, const char* cond, const std::string& msg);

// Untrusted text (a path, a JSON string, an .npy header) for an error message: in single
// quotes, control characters (below 0x20, and 0x7f) and backslashes escaped (\n, \x1b, \\), other
// bytes kept (UTF-8 names stay readable), at most max_chars kept with "...(N bytes)" after a cut.
// The message stays one line whatever the input holds.
std::string quote_input(std::string_view text, size_t max_chars = 200);

// A whole message made safe for one terminal line: control characters escaped, and the middle
// cut when it is longer than max_chars (keeps where and what: its start and its end).
std::string one_line(std::string_view message, size_t max_chars = 1000);

}  // namespace grace

// Throws InputError with the formatted message when cond is false.
#define GRACE_INPUT_CHECK(cond, ...)               \
  do {                                             \
    if (!(cond)) ::grace::fail_input(__VA_ARGS__); \
  } while (0)

// Throws Error naming file, line and condition when an invariant does not hold.
#define GRACE_CHECK(cond, ...)                                                                  \
  do {                                                                                          \
    if (!(cond)) ::grace::fail_internal(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
  } while (0)

#endif  // GRACE_ERROR_H_
