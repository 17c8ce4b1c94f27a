// Helpers for the trace tests: a scratch directory and raw .npy bytes (valid or deliberately
// broken) written plain or gzip-compressed.
#ifndef GRACE_TESTS_TRACE_FIXTURE_H_
#define GRACE_TESTS_TRACE_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace grace::testing {

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() / ("grace_trace_" + std::string(info ? info->name() : "x") + "_" +
                                                      std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The bytes of a v1.0 .npy file with header dict `dict` followed by `data`.
inline std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string d = dict;
  size_t total = 10 + d.size() + 1;
  d.append((64 - total % 64) % 64, ' ');
  d.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(char(d.size() & 0xff));
  out.push_back(char(d.size() >> 8));
  return out + d + data;
}

inline std::string npy_dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Writes bytes to path; gzip-compressed when the path ends in ".gz".
inline void write_bytes(const std::string& path, const std::string& bytes) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
    ASSERT_EQ(gzclose(f), Z_OK);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    ASSERT_TRUE(out.good());
  }
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_TRACE_FIXTURE_H_
