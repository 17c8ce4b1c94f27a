// NumPy .npy files (format v1.0/v2.0/v3.0), plain or gzip-compressed, read in chunks.
//
// NpyReader parses the header ('descr', 'fortran_order', 'shape') and then hands out the data
// a few elements at a time, so a file of any size is read with bounded memory. zlib's gzread
// reads both plain and gzip files transparently. Only little-endian C-order arrays of the
// dtypes in NpyDtype are accepted; every problem is an InputError naming the file.
//
// write_npy writes one array (optionally gzip-compressed) atomically: temp file + rename.
//
// NOTES: the host must be little-endian (checked at compile time).
#ifndef GRACE_TRACE_NPY_H_
#define GRACE_TRACE_NPY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cleanup.h"

namespace grace {

enum class NpyDtype { kU1, kU2, kI4, kI8, kF2, kF4 };

const char* npy_descr(NpyDtype d);  // "|u1", "<u2", ...
size_t npy_itemsize(NpyDtype d);

struct NpyHeader {
  NpyDtype dtype = NpyDtype::kU1;
  std::vector<int64_t> shape;
  int64_t count() const;          // product of shape (1 for a scalar)
  std::string shape_str() const;  // "[8327, 26, 6]"
};

// Parses the text of a header dict ("{'descr': '<u2', 'fortran_order': False, 'shape': (3,)}").
// Throws InputError prefixed with `path`.
NpyHeader parse_npy_header(const std::string& text, const std::string& path);

class NpyReader {
 public:
  NpyReader() = default;
  ~NpyReader();
  NpyReader(const NpyReader&) = delete;
  NpyReader& operator=(const NpyReader&) = delete;

  // Opens `path` (.npy or .npy.gz) and reads its header. Throws InputError.
  void open(const std::string& path);
  void close();
  bool is_open() const { return file_ != nullptr; }

  const NpyHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  int64_t remaining() const { return header_.count() - consumed_; }

  // Reads the next n elements' raw bytes into out (resized to n * itemsize). Throws InputError
  // "truncated data" when the file ends early.
  void read_raw(int64_t n, std::vector<unsigned char>& out);

  // Reads the next n elements converted to int64 (integer dtypes only).
  void read_int64(int64_t n, std::vector<int64_t>& out);

 private:
  void* file_ = nullptr;  // gzFile
  std::string path_;
  NpyHeader header_;
  int64_t consumed_ = 0;
};

// IEEE half -> float.
float half_to_float(uint16_t h);

// Streams one array into a .npy file (gzip-compressed when gzip is true): the header first,
// then write() the elements in order, then commit(). Atomic: the data goes to a temp file
// beside `path` (removed on destruction without commit, and on SIGINT/SIGTERM/SIGHUP), renamed
// onto `path` by commit(). Write errors (a full disk) are InputErrors naming `path`.
class NpyWriter {
 public:
  NpyWriter(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape, bool gzip);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;
  void write(const void* data, int64_t n);  // n elements of the dtype
  void commit();                            // REQUIRES: all elements of the shape written

 private:
  [[noreturn]] void fail();
  std::string path_, tmp_;
  CleanupOnSignal guard_;
  size_t itemsize_;
  void* file_ = nullptr;  // gzFile
  int64_t expected_ = 0, written_ = 0;
  bool committed_ = false;
};

// Writes `data` (count * itemsize bytes, little-endian) as a .npy file; gzip-compressed when
// gzip is true. Atomic: nothing appears at `path` unless the whole file was written.
void write_npy(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape, const void* data, bool gzip);

}  // namespace grace

#endif  // GRACE_TRACE_NPY_H_
