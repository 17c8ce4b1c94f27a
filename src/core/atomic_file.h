// Writing output files atomically: the content goes to a temporary file beside the target,
// which is renamed over it only when complete, so a failed run never leaves a half-written file.
#ifndef GRACE_CORE_ATOMIC_FILE_H_
#define GRACE_CORE_ATOMIC_FILE_H_

#include <string>
#include <string_view>

namespace grace {

// Writes `content` to `path` atomically. Throws InputError naming the path if it cannot.
void write_file_atomic(const std::string& path, std::string_view content);

// Reads a whole file; throws InputError naming the path if it cannot.
std::string read_file(const std::string& path);

// A temporary path beside `path` for callers that stream output (rename it with commit_file).
std::string temp_path_for(const std::string& path);
// Writes `content` as the whole file `path` (created or truncated), flushed and closed; returns 0,
// or the errno of the step that failed (the file may then be partly written).
int write_whole_file(const std::string& path, std::string_view content);
void commit_file(const std::string& tmp, const std::string& path);

}  // namespace grace

#endif  // GRACE_CORE_ATOMIC_FILE_H_
