// resolve_trace: from a trace argument (ids file or directory) to the files of one trace, by
// the naming convention of trace_io.h.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "grace/error.h"
#include "grace/trace_io.h"

namespace grace {
namespace fs = std::filesystem;
namespace {

constexpr const char* kIds = "topk_ids";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_ids_name(const std::string& name) {
  return ends_with(name, std::string(kIds) + ".npy") || ends_with(name, std::string(kIds) + ".npy.gz");
}

// `<dir>/<prefix><stem>.npy` or `.npy.gz`, whichever exists (plain first); empty if neither.
std::string sibling(const fs::path& dir, const std::string& prefix, const std::string& stem) {
  for (const char* ext : {".npy", ".npy.gz"}) {
    fs::path p = dir / (prefix + stem + ext);
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return {};
}

}  // namespace

TraceFiles resolve_trace(const std::string& arg) {
  std::error_code ec;
  GRACE_INPUT_CHECK(!arg.empty(), "empty trace argument");
  const bool exists = fs::exists(arg, ec);
  GRACE_INPUT_CHECK(exists, "trace {}: {}", quote_input(arg), ec ? ec.message() : "no such file or directory");
  fs::path ids;
  if (fs::is_directory(arg, ec)) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(arg, ec)) {
      std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && is_ids_name(name)) found.push_back(name);
    }
    std::sort(found.begin(), found.end());
    if (found.size() != 1) {
      std::string list;
      for (const auto& f : found) list += (list.empty() ? "" : ", ") + f;
      fail_input("trace directory '{}' holds {} *topk_ids.npy[.gz] files{}{}; name one of them", arg, found.size(),
                 found.empty() ? "" : ": ", list);
    }
    ids = fs::path(arg) / found.front();
  } else {
    ids = fs::path(arg);
    GRACE_INPUT_CHECK(is_ids_name(ids.filename().string()),
                      "trace '{}': expected a *topk_ids.npy[.gz] file or a directory holding one", arg);
  }
  std::string name = ids.filename().string();
  std::string prefix = name.substr(0, name.rfind(kIds));
  fs::path dir = ids.parent_path();
  TraceFiles files;
  files.ids = ids.string();
  files.offsets = sibling(dir, prefix, "seq_offsets");
  for (const char* stem : {"topk_weights_f32", "topk_weights_x1e4", "topk_probs_f16"}) {
    files.weights = sibling(dir, prefix, stem);
    if (!files.weights.empty()) break;
  }
  return files;
}

}  // namespace grace
