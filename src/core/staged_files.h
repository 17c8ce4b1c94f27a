// Several output files that appear together or not at all (`grace plan --policy all` writes one
// placement per policy, and --dump-loads).
//
// write() puts each file's content into a temporary beside its target (`<path>.tmp.<pid>`,
// registered for removal on SIGINT/SIGTERM/SIGHUP: core/cleanup.h). commit() renames them into
// place only once all were written, with those signals blocked: a target that does not exist is
// created with renameat2(RENAME_NOREPLACE), an existing one is swapped with its temporary
// (RENAME_EXCHANGE) and its old content removed at the end, so a rename failing part-way puts
// every earlier target back as it was. Destroyed without commit(), the temporaries are removed.
// A target that is a symbolic link is followed (the link stays), as write_file_atomic does; one
// that is a device or FIFO (/dev/null) is written into at commit(), before any rename; one that
// is an input of this command (core/output_path.h) is refused.
#ifndef GRACE_CORE_STAGED_FILES_H_
#define GRACE_CORE_STAGED_FILES_H_

#include <string>
#include <string_view>
#include <vector>

#include "core/cleanup.h"

namespace grace {

class StagedFiles {
 public:
  StagedFiles() = default;
  ~StagedFiles();
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;

  // Writes `content` for `path` (into its temporary). Throws InputError naming path.
  void write(const std::string& path, std::string_view content);
  // Renames every file into place; throws InputError naming the file that could not be, after
  // putting back the ones already renamed.
  void commit();

 private:
  struct Entry {
    std::string target, tmp;
    CleanupOnSignal guard;
    bool swapped = false;  // after the rename: tmp holds the target's old content
    bool direct = false;   // a device or FIFO: `content` is written into it at commit()
    std::string content;
  };
  void discard();

  std::vector<Entry> entries_;
};

}  // namespace grace

#endif  // GRACE_CORE_STAGED_FILES_H_
