// Helpers shared by the libFuzzer targets: per-process scratch files (the parsers under test
// take paths), and the policy for exceptions. A target catches grace::InputError (the parser
// rejected bad input: the expected outcome); any other exception escapes to libFuzzer, which
// reports it as a crash, because the CLI would turn it into "internal error" (exit 1).
#ifndef GRACE_FUZZ_FUZZ_UTIL_H_
#define GRACE_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace grace::fuzz {

// A scratch directory private to this process (removed at exit).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string d = std::string(base && *base ? base : "/tmp") + "/grace-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    static struct Cleanup {
      std::string d;
      ~Cleanup() {
        std::error_code ec;
        std::filesystem::remove_all(d, ec);
      }
    } cleanup{d};
    return d;
  }();
  return dir;
}

// Writes bytes to scratch_dir()/name and returns the path.
inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  std::string path = scratch_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

inline void remove_scratch(const std::string& name) {
  std::error_code ec;
  std::filesystem::remove(scratch_dir() + "/" + name, ec);
}

// Splits fuzz input into parts, each preceded by its 2-byte little-endian length.
struct Splitter {
  const uint8_t* data;
  size_t size;
  bool next(const uint8_t** part, size_t* len) {
    if (size < 2) return false;
    size_t n = size_t(data[0]) | (size_t(data[1]) << 8);
    data += 2, size -= 2;
    if (n > size) n = size;
    *part = data, *len = n;
    data += n, size -= n;
    return true;
  }
};

}  // namespace grace::fuzz

#endif  // GRACE_FUZZ_FUZZ_UTIL_H_
