#include "trace/npy.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/atomic_file.h"
#include "core/output_path.h"
#include "grace/error.h"

static_assert(std::endian::native == std::endian::little, "grace reads .npy data as little-endian");

namespace grace {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

gzFile gz(void* f) { return static_cast<gzFile>(f); }

// Finds `'key':` (single or double quotes) in the header dict; returns the position after ':'.
size_t find_key(const std::string& text, const char* key, const std::string& path) {
  for (char q : {'\'', '"'}) {
    std::string pat = std::string(1, q) + key + std::string(1, q);
    size_t p = text.find(pat);
    if (p == std::string::npos) continue;
    p += pat.size();
    while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
    GRACE_INPUT_CHECK(p < text.size() && text[p] == ':', "{}: malformed .npy header (no ':' after '{}')", path, key);
    ++p;
    while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p]))) ++p;
    return p;
  }
  fail_input("{}: malformed .npy header: no '{}' in {}", path, key, text);
}

}  // namespace

const char* npy_descr(NpyDtype d) {
  switch (d) {
    case NpyDtype::kU1:
      return "|u1";
    case NpyDtype::kU2:
      return "<u2";
    case NpyDtype::kI4:
      return "<i4";
    case NpyDtype::kI8:
      return "<i8";
    case NpyDtype::kF2:
      return "<f2";
    case NpyDtype::kF4:
      return "<f4";
  }
  return "?";
}

size_t npy_itemsize(NpyDtype d) {
  switch (d) {
    case NpyDtype::kU1:
      return 1;
    case NpyDtype::kU2:
    case NpyDtype::kF2:
      return 2;
    case NpyDtype::kI4:
    case NpyDtype::kF4:
      return 4;
    case NpyDtype::kI8:
      return 8;
  }
  return 1;
}

int64_t NpyHeader::count() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string NpyHeader::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

NpyHeader parse_npy_header(const std::string& text, const std::string& path) {
  NpyHeader h;
  // descr
  size_t p = find_key(text, "descr", path);
  GRACE_INPUT_CHECK(p < text.size() && (text[p] == '\'' || text[p] == '"'),
                    "{}: malformed .npy header: 'descr' is not a string", path);
  char q = text[p];
  size_t end = text.find(q, p + 1);
  GRACE_INPUT_CHECK(end != std::string::npos, "{}: malformed .npy header: unterminated 'descr'", path);
  std::string descr = text.substr(p + 1, end - p - 1);
  if (descr == "|u1" || descr == "<u1" || descr == "u1")
    h.dtype = NpyDtype::kU1;
  else if (descr == "<u2")
    h.dtype = NpyDtype::kU2;
  else if (descr == "<i4")
    h.dtype = NpyDtype::kI4;
  else if (descr == "<i8")
    h.dtype = NpyDtype::kI8;
  else if (descr == "<f2")
    h.dtype = NpyDtype::kF2;
  else if (descr == "<f4")
    h.dtype = NpyDtype::kF4;
  else
    fail_input("{}: dtype '{}' is not supported (|u1 <u2 <i4 <i8 <f2 <f4, little-endian)", path, descr);
  // fortran_order
  p = find_key(text, "fortran_order", path);
  if (text.compare(p, 4, "True") == 0) fail_input("{}: Fortran-order arrays are not supported (need C order)", path);
  GRACE_INPUT_CHECK(text.compare(p, 5, "False") == 0, "{}: malformed .npy header: bad 'fortran_order'", path);
  // shape
  p = find_key(text, "shape", path);
  GRACE_INPUT_CHECK(p < text.size() && text[p] == '(', "{}: malformed .npy header: 'shape' is not a tuple", path);
  end = text.find(')', p);
  GRACE_INPUT_CHECK(end != std::string::npos, "{}: malformed .npy header: unterminated 'shape'", path);
  std::string tuple = text.substr(p + 1, end - p - 1);
  size_t i = 0;
  while (i < tuple.size()) {
    while (i < tuple.size() && (std::isspace(static_cast<unsigned char>(tuple[i])) || tuple[i] == ',')) ++i;
    if (i >= tuple.size()) break;
    GRACE_INPUT_CHECK(std::isdigit(static_cast<unsigned char>(tuple[i])), "{}: malformed .npy header: bad 'shape' ({})",
                      path, tuple);
    int64_t v = 0;
    while (i < tuple.size() && std::isdigit(static_cast<unsigned char>(tuple[i]))) {
      GRACE_INPUT_CHECK(v < (int64_t(1) << 50), "{}: 'shape' dimension too large", path);
      v = v * 10 + (tuple[i++] - '0');
    }
    h.shape.push_back(v);
    while (i < tuple.size() && tuple[i] == 'L') ++i;  // Python 2 longs
  }
  int64_t total = 1;  // the element count must not overflow (count() multiplies the dimensions)
  for (int64_t v : h.shape) {
    GRACE_INPUT_CHECK(v == 0 || total <= (int64_t(1) << 56) / v, "{}: shape {} has too many elements", path,
                      h.shape_str());
    total *= v;
  }
  return h;
}

NpyReader::~NpyReader() { close(); }

void NpyReader::close() {
  if (file_) gzclose(gz(file_));
  file_ = nullptr;
  consumed_ = 0;
}

void NpyReader::open(const std::string& path) {
  close();
  path_ = path;
  gzFile f = gzopen(path.c_str(), "rb");
  GRACE_INPUT_CHECK(f != nullptr, "cannot read '{}': {}", path, std::strerror(errno));
  note_input(path);
  file_ = f;
  gzbuffer(f, 1 << 17);
  unsigned char pre[12];
  int n = gzread(f, pre, 10);
  GRACE_INPUT_CHECK(n >= 0, "{}: read error: {}", path, gzerror(f, nullptr));
  GRACE_INPUT_CHECK(n >= int(kMagicLen) && std::memcmp(pre, kMagic, kMagicLen) == 0,
                    "{}: not a NumPy .npy file (wrong magic)", path);
  GRACE_INPUT_CHECK(n == 10, "{}: truncated .npy header", path);
  int major = pre[6];
  GRACE_INPUT_CHECK(major >= 1 && major <= 3, "{}: unsupported .npy format version {}.{}", path, major, int(pre[7]));
  size_t hlen = size_t(pre[8]) | (size_t(pre[9]) << 8);
  if (major >= 2) {
    n = gzread(f, pre + 10, 2);
    GRACE_INPUT_CHECK(n == 2, "{}: truncated .npy header", path);
    hlen |= (size_t(pre[10]) << 16) | (size_t(pre[11]) << 24);
  }
  GRACE_INPUT_CHECK(hlen < (1u << 24), "{}: .npy header length {} is implausible", path, hlen);
  std::string text(hlen, '\0');
  n = gzread(f, text.data(), unsigned(hlen));
  GRACE_INPUT_CHECK(n == int(hlen), "{}: truncated .npy header ({} of {} bytes)", path, n < 0 ? 0 : n, hlen);
  header_ = parse_npy_header(text, path);
  consumed_ = 0;
}

void NpyReader::read_raw(int64_t n, std::vector<unsigned char>& out) {
  GRACE_CHECK(file_ != nullptr, "read from a closed NpyReader");
  GRACE_CHECK(n >= 0 && n <= remaining(), "reading {} elements, {} remain", n, remaining());
  size_t item = npy_itemsize(header_.dtype);
  size_t bytes = size_t(n) * item;
  // The buffer grows with the data actually read (16 MiB steps), never straight to the size the
  // header claims: a tiny file declaring a huge shape fails as "truncated", not by allocating.
  out.clear();
  size_t done = 0;
  while (done < bytes) {
    unsigned want = unsigned(std::min<size_t>(bytes - done, size_t(1) << 24));
    out.resize(done + want);
    int got = gzread(gz(file_), out.data() + done, want);
    if (got < 0) {
      int err = 0;
      const char* msg = gzerror(gz(file_), &err);
      fail_input("{}: read error (corrupt or truncated data): {}", path_, msg);
    }
    if (got == 0) {
      fail_input("{}: truncated data: shape {} needs {} elements, the file ends after {}", path_, header_.shape_str(),
                 header_.count(), consumed_ + int64_t(done / item));
    }
    done += size_t(got);
  }
  consumed_ += n;
}

void NpyReader::read_int64(int64_t n, std::vector<int64_t>& out) {
  std::vector<unsigned char> raw;
  read_raw(n, raw);
  out.resize(size_t(n));
  const unsigned char* p = raw.data();
  switch (header_.dtype) {
    case NpyDtype::kU1:
      for (int64_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    case NpyDtype::kU2:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        out[i] = v;
      }
      break;
    case NpyDtype::kI4:
      for (int64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        out[i] = v;
      }
      break;
    case NpyDtype::kI8:
      std::memcpy(out.data(), p, size_t(n) * 8);
      break;
    default:
      fail_input("{}: dtype {} is not an integer type", path_, npy_descr(header_.dtype));
  }
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        mant <<= 1;
        ++e;
      } while ((mant & 0x400) == 0);
      bits = sign | (uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

NpyWriter::NpyWriter(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape, bool gzip)
    : path_(path), tmp_(temp_path_for(path)), guard_(tmp_, /*is_folder=*/false), itemsize_(npy_itemsize(dtype)) {
  std::string shape_txt = "(";
  for (size_t i = 0; i < shape.size(); ++i) shape_txt += (i ? ", " : "") + std::to_string(shape[i]);
  shape_txt += shape.size() == 1 ? ",)" : ")";
  std::string dict =
      std::string("{'descr': '") + npy_descr(dtype) + "', 'fortran_order': False, 'shape': " + shape_txt + ", }";
  // v1.0: magic(6) + version(2) + len(2) + dict padded with spaces and '\n' to a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict.push_back('\n');
  GRACE_CHECK(dict.size() < 65536, "npy header too long");
  std::string head(kMagic, kMagicLen);
  head.push_back(char(1));
  head.push_back(char(0));
  head.push_back(char(dict.size() & 0xff));
  head.push_back(char(dict.size() >> 8));
  head += dict;
  expected_ = 1;
  for (int64_t x : shape) expected_ *= x;

  gzFile f = gzopen(tmp_.c_str(), gzip ? "wb4" : "wbT");
  GRACE_INPUT_CHECK(f != nullptr, "cannot write {}: {}", quote_input(path_), std::strerror(errno));
  file_ = f;
  gzbuffer(f, 1 << 17);
  if (gzwrite(f, head.data(), unsigned(head.size())) != int(head.size())) fail();
}

NpyWriter::~NpyWriter() {
  if (file_) gzclose(static_cast<gzFile>(file_));
  if (!committed_) std::remove(tmp_.c_str());
}

void NpyWriter::fail() {
  const int err = errno;
  if (file_) gzclose(static_cast<gzFile>(file_));
  file_ = nullptr;
  std::remove(tmp_.c_str());
  committed_ = true;  // nothing left to remove
  fail_input("cannot write {}: {}", quote_input(path_), std::strerror(err ? err : EIO));
}

void NpyWriter::write(const void* data, int64_t n) {
  GRACE_CHECK(file_ != nullptr && written_ + n <= expected_, "NpyWriter: {} elements past the shape", n);
  const char* p = static_cast<const char*>(data);
  size_t bytes = size_t(n) * itemsize_, done = 0;
  while (done < bytes) {
    unsigned m = unsigned(std::min<size_t>(bytes - done, size_t(1) << 28));
    if (gzwrite(static_cast<gzFile>(file_), p + done, m) != int(m)) fail();
    done += m;
  }
  written_ += n;
}

void NpyWriter::commit() {
  GRACE_CHECK(written_ == expected_, "NpyWriter: {} of {} elements written", written_, expected_);
  gzFile f = static_cast<gzFile>(file_);
  file_ = nullptr;
  if (gzclose(f) != Z_OK) {
    std::remove(tmp_.c_str());
    committed_ = true;
    fail_input("cannot write {}: {}", quote_input(path_), std::strerror(errno ? errno : EIO));
  }
  commit_file(tmp_, path_);
  committed_ = true;
}

void write_npy(const std::string& path, NpyDtype dtype, const std::vector<int64_t>& shape, const void* data,
               bool gzip) {
  NpyWriter w(path, dtype, shape, gzip);
  int64_t count = 1;
  for (int64_t x : shape) count *= x;
  w.write(data, count);
  w.commit();
}

}  // namespace grace
