#include "core/staged_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/atomic_file.h"
#include "core/output_path.h"
#include "grace/error.h"

namespace grace {
namespace fs = std::filesystem;
namespace {

// The first name in `dir` that grace did not write, or "".
std::string foreign_name(const fs::path& dir, const std::vector<std::string>& owned) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (std::find(owned.begin(), owned.end(), name) == owned.end()) return name;
  }
  return ec ? std::string("(cannot list: ") + ec.message() + ")" : "";
}

}  // namespace

void check_output_folder(const std::string& target, const std::vector<std::string>& owned) {
  check_output_path(target);
  std::error_code ec;
  const auto st = fs::status(target, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    fail_input("output folder {}: {}", quote_input(target), ec.message());
  if (!fs::exists(st)) return check_can_create(target);
  GRACE_INPUT_CHECK(fs::is_directory(st), "output folder {}: exists and is not a folder", quote_input(target));
  const std::string foreign = foreign_name(target, owned);
  GRACE_INPUT_CHECK(foreign.empty(),
                    "output folder {}: holds {}, which grace did not write there; give a new or empty folder "
                    "(grace replaces an output folder whole)",
                    quote_input(target), quote_input(foreign));
  check_can_create(target);
}

StagedDir::StagedDir(const std::string& target, std::vector<std::string> owned)
    : target_(target), owned_(std::move(owned)) {
  while (target_.size() > 1 && target_.back() == '/') target_.pop_back();
  check_output_folder(target_, owned_);
  target_ = resolve_output_path(target_);  // a link to a folder: the folder is replaced, the link kept
  fs::path t(target_);
  fs::path parent = t.parent_path();
  if (parent.empty()) parent = ".";
  // Missing parents are created, and removed again if nothing is committed.
  std::vector<fs::path> missing;
  for (fs::path p = parent; !p.empty() && !fs::exists(p); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    std::error_code ec;
    if (!fs::create_directory(*it, ec) && ec) {
      discard();
      fail_input("cannot create output folder {}: {}", quote_input(it->string()), ec.message());
    }
    created_parents_.push_back(it->string());
    parent_guards_.push_back(CleanupOnSignal::empty_folder(it->string()));
  }
  std::string name = ".";  // appended piece by piece: GCC 12 misreads "." + std::string (-Wrestrict)
  name += t.filename().string();
  name += ".tmp.";
  name += std::to_string(::getpid());
  staging_ = (parent / name).string();
  std::error_code ec;
  fs::remove_all(staging_, ec);  // a leftover of a killed run with the same pid
  guard_ = CleanupOnSignal(staging_, /*is_folder=*/true);
  if (!fs::create_directory(staging_, ec)) {
    guard_.release();
    discard();
    fail_input("cannot create output folder {}: {}", quote_input(target_), ec ? ec.message() : "exists");
  }
}

StagedDir::~StagedDir() {
  if (!committed_) discard();
}

void StagedDir::discard() {
  std::error_code ec;
  if (!staging_.empty()) fs::remove_all(staging_, ec);
  guard_.release();
  for (auto it = created_parents_.rbegin(); it != created_parents_.rend(); ++it) fs::remove(*it, ec);  // if empty
  created_parents_.clear();
  parent_guards_.clear();
}

void StagedDir::write(const std::string& name, std::string_view content) {
  const int err = write_whole_file(file(name), content);
  GRACE_INPUT_CHECK(err == 0, "cannot write {}: {}", quote_input(target_ + "/" + name), std::strerror(err));
}

void StagedDir::commit() {
  if (::rename(staging_.c_str(), target_.c_str()) == 0) {
    committed_ = true;
    guard_.release();
    parent_guards_.clear();
    return;
  }
  int err = errno;
  if (err == ENOTEMPTY || err == EEXIST) {
    // An existing folder: only one grace wrote may be replaced.
    const std::string foreign = fs::is_directory(target_) ? foreign_name(target_, owned_) : "";
    if (foreign.empty() && ::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) == 0) {
      committed_ = true;
      std::error_code ec;
      fs::remove_all(staging_, ec);  // now the old content
      guard_.release();
      parent_guards_.clear();
      return;
    }
    err = foreign.empty() ? errno : ENOTEMPTY;
  }
  discard();
  fail_input("cannot write output folder {}: {}", quote_input(target_), std::strerror(err));
}

}  // namespace grace
