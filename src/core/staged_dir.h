// Multi-file outputs (a trace folder, a report folder) appear whole or not at all.
//
// The files are written into a staging folder beside the target, `<parent>/.<name>.tmp.<pid>`,
// registered for removal on SIGINT/SIGTERM/SIGHUP (core/cleanup.h). commit() renames it into
// place: onto a missing or empty target with rename(2); onto an existing folder written by grace
// (every name in `owned`) with renameat2(RENAME_EXCHANGE), after which the old content is
// removed. A reader, or a second writer into the same target, sees the old folder or the new
// one, never a mix. Destroyed without commit(), it removes the staging folder and any parent
// folders it created; a signal before commit() removes them too (parents only if empty).
//
// A target that is a symbolic link is followed (the link stays, its target folder is written).
// A target that exists and is not a folder, or holds a name grace did not write, is refused
// before any work (check_output_folder), so a user's files are never replaced or mixed in.
#ifndef GRACE_CORE_STAGED_DIR_H_
#define GRACE_CORE_STAGED_DIR_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/cleanup.h"

namespace grace {

// Throws InputError naming `target` when it cannot become the output folder (see above).
void check_output_folder(const std::string& target, const std::vector<std::string>& owned);

class StagedDir {
 public:
  StagedDir(const std::string& target, std::vector<std::string> owned);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  const std::string& path() const { return staging_; }  // write the files here
  std::string file(const std::string& name) const { return staging_ + "/" + name; }
  // Writes `content` as file `name` of the staging folder; a failure is an InputError naming
  // the file in the target folder (the staging folder is an implementation detail).
  void write(const std::string& name, std::string_view content);
  void commit();  // throws InputError when the rename fails (the staging folder is removed)

 private:
  void discard();

  std::string target_, staging_;
  std::vector<std::string> owned_;
  std::vector<std::string> created_parents_;    // deepest last
  std::vector<CleanupOnSignal> parent_guards_;  // the created parents, removed on a signal if empty
  CleanupOnSignal guard_;
  bool committed_ = false;
};

}  // namespace grace

#endif  // GRACE_CORE_STAGED_DIR_H_
