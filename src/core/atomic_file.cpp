#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/cleanup.h"
#include "core/output_path.h"
#include "grace/error.h"

namespace grace {

std::string temp_path_for(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

void commit_file(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    fail_input("cannot write {}: {}", quote_input(path), ec.message());
  }
}

int write_whole_file(const std::string& path, std::string_view content) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return errno ? errno : EIO;
  int err = 0;
  if (std::fwrite(content.data(), 1, content.size(), f) != content.size() || std::fflush(f) != 0)
    err = errno ? errno : EIO;
  if (std::fclose(f) != 0 && err == 0) err = errno ? errno : EIO;
  return err;
}

void write_file_atomic(const std::string& out, std::string_view content) {
  const std::string path = resolve_output_path(out);
  GRACE_INPUT_CHECK(!std::filesystem::is_directory(path), "cannot write {}: it is a directory", quote_input(path));
  check_not_an_input(path);
  if (is_special_file(path)) {  // /dev/null, a FIFO: written into, never replaced
    if (const int err = write_whole_file(path, content)) fail_input("cannot write {}: {}", quote_input(path), std::strerror(err));
    return;
  }
  std::string tmp = temp_path_for(path);
  CleanupOnSignal guard(tmp, /*is_folder=*/false);
  if (const int err = write_whole_file(tmp, content)) {
    std::remove(tmp.c_str());
    fail_input("cannot write {}: {}", quote_input(path), std::strerror(err));
  }
  commit_file(tmp, path);
}

std::string read_file(const std::string& path) {
  GRACE_INPUT_CHECK(!std::filesystem::is_directory(path), "'{}' is a directory, expected a file", path);
  std::ifstream in(path, std::ios::binary);
  GRACE_INPUT_CHECK(in.good(), "cannot read '{}': {}", path, std::strerror(errno));
  note_input(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace grace
