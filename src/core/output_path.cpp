#include "core/output_path.h"

#include <filesystem>
#include <system_error>

#include "grace/error.h"

namespace grace {
namespace fs = std::filesystem;

namespace {
constexpr size_t kNameMax = 255;
constexpr size_t kPathMax = 4096;
}  // namespace

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
