#include "core/output_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "grace/error.h"

namespace grace {
namespace fs = std::filesystem;

namespace {
constexpr size_t kNameMax = 255;
constexpr size_t kPathMax = 4096;

struct NotedInputs {
  std::mutex mu;
  bool on = false;
  std::vector<std::pair<dev_t, ino_t>> files;
  std::vector<std::string> names;
};
NotedInputs& noted() {
  static NotedInputs n;
  return n;
}
}  // namespace

void check_can_create(const std::string& path) {
  if (is_special_file(path)) return;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  // The nearest folder above that exists (missing ones are created by the writer); "." above a
  // relative path's first component.
  while (!fs::exists(dir, ec)) {
    if (!dir.has_parent_path() || dir == dir.parent_path()) {
      dir = dir.is_absolute() ? dir.root_path() : fs::path(".");
      break;
    }
    dir = dir.parent_path();
  }
  std::string probe = (dir / ".grace-probe-XXXXXX").string();
  if (::mkdtemp(probe.data()) == nullptr) {
    const int err = errno;
    fail_input("cannot create output {}: {} ({})", quote_input(path), std::strerror(err), quote_input(dir.string()));
  }
  ::rmdir(probe.c_str());
}

void guard_inputs() {
  NotedInputs& n = noted();
  std::lock_guard<std::mutex> lock(n.mu);
  n.on = true;
}

void note_input(const std::string& path) {
  if (!noted().on) return;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  NotedInputs& n = noted();
  std::lock_guard<std::mutex> lock(n.mu);
  if (!n.on) return;
  const std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
  if (std::find(n.files.begin(), n.files.end(), id) != n.files.end()) return;
  n.files.push_back(id);
  n.names.push_back(path);
}

void check_not_an_input(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
  NotedInputs& n = noted();
  std::lock_guard<std::mutex> lock(n.mu);
  const auto it = std::find(n.files.begin(), n.files.end(), std::pair<dev_t, ino_t>{st.st_dev, st.st_ino});
  if (it == n.files.end()) return;
  const std::string& as = n.names[size_t(it - n.files.begin())];
  if (as == path)
    fail_input("cannot write {}: it is also an input of this command; write the output elsewhere", quote_input(path));
  fail_input("cannot write {}: it is also an input of this command (read as {}); write the output elsewhere",
             quote_input(path), quote_input(as));
}

bool is_special_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

void check_output_path(const std::string& path) {
  GRACE_INPUT_CHECK(!path.empty(), "output path is empty");
  GRACE_INPUT_CHECK(path.size() < kPathMax, "output path {} is {} bytes, over the {}-byte limit", quote_input(path),
                    path.size(), kPathMax - 1);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    GRACE_INPUT_CHECK(end - start <= kNameMax, "output path {}: a component of {} bytes is over the {}-byte limit",
                      quote_input(path), end - start, kNameMax);
    start = end + 1;
  }
}

std::string resolve_output_path(const std::string& path) {
  check_output_path(path);
  fs::path p(path);
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
    fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  return p.string();
}

}  // namespace grace
