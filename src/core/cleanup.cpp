#include "core/cleanup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace grace {
namespace {

constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;

struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being written, 2 file, 3 folder
  char path[kPathMax];
};
Slot g_slots[kSlots];

struct linux_dirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

void remove_folder(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    alignas(8) char buf[8192];
    for (;;) {
      const long n = ::syscall(SYS_getdents64, fd, buf, sizeof(buf));
      if (n <= 0) break;
      for (long at = 0; at < n;) {
        auto* d = reinterpret_cast<linux_dirent64*>(buf + at);
        at += d->d_reclen;
        if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
        ::unlinkat(fd, d->d_name, 0);
      }
    }
    ::close(fd);
  }
  ::rmdir(path);
}

void on_signal(int sig) {
  for (int i = kSlots - 1; i >= 0; --i) {
    const int s = g_slots[i].state.load();
    if (s == 2) ::unlink(g_slots[i].path);
    if (s == 3) remove_folder(g_slots[i].path);
    if (s == 4) ::rmdir(g_slots[i].path);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void install_cleanup_handlers() {
  static const bool done = [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old;
      // A signal ignored by the parent (nohup) stays ignored.
      if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
      sigaddset(&sa.sa_mask, sig);
    }
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old;
      if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
      ::sigaction(sig, &sa, nullptr);
    }
    return true;
  }();
  (void)done;
}

CleanupOnSignal::CleanupOnSignal(const std::string& path, bool is_folder) : CleanupOnSignal(path, is_folder ? 3 : 2) {}

CleanupOnSignal CleanupOnSignal::empty_folder(const std::string& path) { return CleanupOnSignal(path, 4); }

// Slot states: 0 free, 1 being filled, 2 file, 3 folder of files, 4 empty folder.
CleanupOnSignal::CleanupOnSignal(const std::string& path, int state) {
  if (path.size() >= kPathMax) return;  // cannot be registered; such a path cannot be created either
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(state);
      slot_ = i;
      return;
    }
  }
}

CleanupOnSignal::~CleanupOnSignal() { release(); }

CleanupOnSignal& CleanupOnSignal::operator=(CleanupOnSignal&& o) noexcept {
  if (this != &o) {
    release();
    slot_ = o.slot_;
    o.slot_ = -1;
  }
  return *this;
}

void CleanupOnSignal::release() {
  if (slot_ >= 0) g_slots[slot_].state.store(0);
  slot_ = -1;
}

}  // namespace grace
