// Output paths, checked before any work is done, and symlinks followed; the inputs they may not
// overwrite.
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

// Throws InputError (naming `path`) unless an output can be created where `path` points: a
// folder is made and removed again in the nearest existing folder above it (the way the output
// itself will be written there), so a read-only or otherwise refused place fails before any work.
// A device or FIFO at `path` passes (it is written into).
void check_can_create(const std::string& path);

// Inputs this process has read (JSON files, .npy traces), so that no output of a command is
// written over one of them: once guard_inputs() was called (the CLI does, at start), note_input
// records a file as read (by device and inode) and check_not_an_input throws InputError when
// `path` is a file noted so ("is also an input of this command"). Off in the library: a program
// may read a placement and write it back.
void guard_inputs();
void note_input(const std::string& path);
void check_not_an_input(const std::string& path);

// True when `path` exists and is neither a regular file nor a folder (a character device such
// as /dev/null, a FIFO, a socket): outputs are written straight into it, not renamed over it.
bool is_special_file(const std::string& path);

}  // namespace grace

#endif  // GRACE_CORE_OUTPUT_PATH_H_
