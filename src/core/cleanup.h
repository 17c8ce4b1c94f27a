// Temporaries that must not outlive grace: files and folders registered here are removed when
// grace is stopped by SIGINT, SIGTERM or SIGHUP (then the signal takes its default action, so
// the exit status still says which signal). The handler uses only async-signal-safe calls:
// unlink, and for a folder open + getdents64 + unlinkat + rmdir (one level: staged output
// folders hold files only).
#ifndef GRACE_CORE_CLEANUP_H_
#define GRACE_CORE_CLEANUP_H_

#include <string>

namespace grace {

// Installs the handlers (idempotent). main() calls it first.
void install_cleanup_handlers();

// Registers `path` (a file, or a folder of files) for removal on those signals while alive.
// Destruction unregisters it and removes nothing: commit or remove the temporary yourself.
// empty_folder(): a folder removed only if empty (rmdir), after every temporary registered
// later (the handler walks the registrations newest first).
class CleanupOnSignal {
 public:
  CleanupOnSignal() = default;
  CleanupOnSignal(const std::string& path, bool is_folder);
  ~CleanupOnSignal();
  CleanupOnSignal(const CleanupOnSignal&) = delete;
  CleanupOnSignal& operator=(const CleanupOnSignal&) = delete;
  CleanupOnSignal(CleanupOnSignal&& o) noexcept : slot_(o.slot_) { o.slot_ = -1; }
  CleanupOnSignal& operator=(CleanupOnSignal&& o) noexcept;
  void release();  // unregister now
  static CleanupOnSignal empty_folder(const std::string& path);

 private:
  CleanupOnSignal(const std::string& path, int state);
  int slot_ = -1;
};

}  // namespace grace

#endif  // GRACE_CORE_CLEANUP_H_
