// Output paths, checked before any work is done, and symlinks followed.
#ifndef GRACE_CORE_OUTPUT_PATH_H_
#define GRACE_CORE_OUTPUT_PATH_H_

#include <string>

namespace grace {

// Throws InputError when `path` cannot name an output: empty, a component over 255 bytes
// (NAME_MAX), or 4096 bytes or more in all (PATH_MAX). The path is quoted and cut in messages.
void check_output_path(const std::string& path);

// The path an output is written to: `path` itself, or, when `path` is a symbolic link, the
// file it points to (followed to the end), so -o through a link writes the link's target and
// keeps the link. A dangling link is written at its target.
std::string resolve_output_path(const std::string& path);

}  // namespace grace

#endif  // GRACE_CORE_OUTPUT_PATH_H_
