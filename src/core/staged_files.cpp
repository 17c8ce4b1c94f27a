#include "core/staged_files.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/output_path.h"
#include "grace/error.h"

namespace grace {
namespace {

// Blocks SIGINT, SIGTERM and SIGHUP while alive (a signal arriving meanwhile is delivered after).
class BlockSignals {
 public:
  BlockSignals() {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&s, sig);
    ::sigprocmask(SIG_BLOCK, &s, &old_);
  }
  ~BlockSignals() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

}  // namespace

StagedFiles::~StagedFiles() { discard(); }

void StagedFiles::discard() {
  for (auto& e : entries_) {
    if (!e.direct) ::unlink(e.tmp.c_str());
    e.guard.release();
  }
  entries_.clear();
}

void StagedFiles::write(const std::string& out, std::string_view content) {
  const std::string path = resolve_output_path(out);
  GRACE_INPUT_CHECK(!std::filesystem::is_directory(path), "cannot write {}: it is a directory", quote_input(path));
  check_not_an_input(path);
  for (const Entry& x : entries_)
    GRACE_INPUT_CHECK(x.target != path, "cannot write {}: two outputs of this command are given that path", quote_input(path));
  Entry e;
  e.target = path;
  if (is_special_file(path)) {
    e.direct = true;
    e.content = std::string(content);
    entries_.push_back(std::move(e));
    return;
  }
  e.tmp = temp_path_for(path);
  e.guard = CleanupOnSignal(e.tmp, /*is_folder=*/false);
  if (const int err = write_whole_file(e.tmp, content)) {
    ::unlink(e.tmp.c_str());
    fail_input("cannot write {}: {}", quote_input(path), std::strerror(err));
  }
  entries_.push_back(std::move(e));
}

void StagedFiles::commit() {
  // Devices and FIFOs first: their writes cannot be taken back, the renames can. Before the
  // signals are blocked: a FIFO without a reader waits, and Ctrl-C must still end it.
  for (Entry& e : entries_) {
    if (!e.direct) continue;
    if (const int err = write_whole_file(e.target, e.content)) {
      const std::string target = e.target;
      discard();
      fail_input("cannot write {}: {}", quote_input(target), std::strerror(err));
    }
  }
  BlockSignals blocked;
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.direct) continue;
    int rc = ::renameat2(AT_FDCWD, e.tmp.c_str(), AT_FDCWD, e.target.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && errno == EEXIST) {
      rc = ::renameat2(AT_FDCWD, e.tmp.c_str(), AT_FDCWD, e.target.c_str(), RENAME_EXCHANGE);
      e.swapped = rc == 0;
    }
    if (rc != 0 && (errno == EINVAL || errno == ENOSYS))
      rc = ::rename(e.tmp.c_str(), e.target.c_str());  // no renameat2 flags here
    if (rc == 0) continue;
    const int err = errno;
    // Put back what was renamed: the old content where there was one, else nothing.
    for (size_t j = i; j-- > 0;) {
      Entry& d = entries_[j];
      if (d.swapped)
        ::renameat2(AT_FDCWD, d.tmp.c_str(), AT_FDCWD, d.target.c_str(), RENAME_EXCHANGE);
      else
        ::unlink(d.target.c_str());
    }
    const std::string target = e.target;  // discard() destroys e
    discard();
    fail_input("cannot write {}: {}", quote_input(target), std::strerror(err));
  }
  for (auto& e : entries_) {
    if (e.swapped && !e.direct) ::unlink(e.tmp.c_str());  // the old content
    e.guard.release();
  }
  entries_.clear();
}

}  // namespace grace
