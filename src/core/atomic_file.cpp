#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "grace/error.h"

namespace grace {

std::string temp_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

void commit_file(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    fail_input("cannot write '{}': {}", path, ec.message());
  }
}

void write_file_atomic(const std::string& path, std::string_view content) {
  std::string tmp = temp_path_for(path);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  GRACE_INPUT_CHECK(f != nullptr, "cannot write '{}': {}", path, std::strerror(errno));
  size_t n = std::fwrite(content.data(), 1, content.size(), f);
  bool ok = n == content.size() && std::fflush(f) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    fail_input("cannot write '{}': {}", path, std::strerror(errno));
  }
  commit_file(tmp, path);
}

std::string read_file(const std::string& path) {
  GRACE_INPUT_CHECK(!std::filesystem::is_directory(path), "'{}' is a directory, expected a file", path);
  std::ifstream in(path, std::ios::binary);
  GRACE_INPUT_CHECK(in.good(), "cannot read '{}': {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace grace
