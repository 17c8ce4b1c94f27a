// Safetensors reading and writing (see safetensors.h).
#include "engine/safetensors.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "grace/error.h"

namespace grace::engine {
namespace {

int dtype_size(const std::string& d) {
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "BF16" || d == "F16" || d == "I16" || d == "U16") return 2;
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  return out + "]";
}

}  // namespace

float bf16_to_f32(uint16_t v) {
  uint32_t bits = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_bf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if (std::isnan(v)) return uint16_t((bits >> 16) | 0x40);
  bits += 0x7FFF + ((bits >> 16) & 1);  // round to nearest even
  return uint16_t(bits >> 16);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  float f;
  if (exp == 0) {
    f = std::ldexp(float(mant), -24);  // zero / subnormal
    return sign ? -f : f;
  }
  uint32_t bits = exp == 31 ? (sign | 0x7F800000u | (mant << 13)) : (sign | ((exp + 112) << 23) | (mant << 13));
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float v) {
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  float a = std::fabs(v);
  if (std::isnan(v)) return sign | 0x7E00;
  if (a >= 65520.0f) return sign | 0x7C00;  // overflow -> inf
  if (a < std::ldexp(1.0f, -14)) {          // subnormal
    return sign | uint16_t(std::nearbyint(std::ldexp(a, 24)));
  }
  int e;
  float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int mant = int(std::nearbyint((m * 2 - 1) * 1024));
  int exp = e - 1 + 15;
  if (mant == 1024) {
    mant = 0;
    ++exp;
  }
  if (exp >= 31) return sign | 0x7C00;
  return sign | uint16_t(exp << 10) | uint16_t(mant);
}

SafetensorsFile::SafetensorsFile(std::string path) : path_(std::move(path)) {
  std::ifstream in(path_, std::ios::binary | std::ios::ate);
  GRACE_INPUT_CHECK(in.good(), "{}: cannot open safetensors file", path_);
  const int64_t file_size = int64_t(in.tellg());
  GRACE_INPUT_CHECK(file_size >= 8, "{}: too short for a safetensors file ({} bytes)", path_, file_size);
  in.seekg(0);
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  GRACE_INPUT_CHECK(header_len > 0 && header_len <= uint64_t(file_size - 8) && header_len < (100u << 20),
                    "{}: header length {} does not fit the file ({} bytes)", path_, header_len, file_size);
  std::string header(header_len, '\0');
  in.read(header.data(), std::streamsize(header_len));
  GRACE_INPUT_CHECK(in.good(), "{}: cannot read the header", path_);
  data_start_ = 8 + int64_t(header_len);
  const int64_t data_size = file_size - data_start_;

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const std::exception& e) {
    fail_input("{}: header is not valid JSON ({})", path_, e.what());
  }
  GRACE_INPUT_CHECK(j.is_object(), "{}: header is not a JSON object", path_);
  for (auto& [name, t] : j.items()) {
    if (name == "__metadata__") continue;
    GRACE_INPUT_CHECK(t.is_object() && t.contains("dtype") && t.contains("shape") && t.contains("data_offsets") &&
                          t["dtype"].is_string() && t["shape"].is_array() && t["data_offsets"].is_array() &&
                          t["data_offsets"].size() == 2,
                      "{}: tensor '{}' lacks dtype/shape/data_offsets", path_, name);
    TensorInfo info;
    info.dtype = t["dtype"].get<std::string>();
    int64_t numel = 1;
    for (auto& d : t["shape"]) {
      GRACE_INPUT_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, "{}: tensor '{}' has a bad shape", path_, name);
      info.shape.push_back(d.get<int64_t>());
      // numel * 8 bytes must not overflow: no valid tensor is larger than the file anyway.
      GRACE_INPUT_CHECK(info.shape.back() == 0 || numel <= (int64_t(1) << 56) / info.shape.back(),
                        "{}: tensor '{}' has an implausible shape", path_, name);
      numel *= info.shape.back();
    }
    GRACE_INPUT_CHECK(t["data_offsets"][0].is_number_integer() && t["data_offsets"][1].is_number_integer(),
                      "{}: tensor '{}' has bad data_offsets", path_, name);
    info.begin = t["data_offsets"][0].get<int64_t>();
    info.end = t["data_offsets"][1].get<int64_t>();
    GRACE_INPUT_CHECK(info.begin >= 0 && info.begin <= info.end && info.end <= data_size,
                      "{}: tensor '{}' data_offsets [{}, {}] outside the data section ({} bytes)", path_, name,
                      info.begin, info.end, data_size);
    const int ds = dtype_size(info.dtype);
    GRACE_INPUT_CHECK(ds > 0, "{}: tensor '{}' has unknown dtype '{}'", path_, name, info.dtype);
    GRACE_INPUT_CHECK(info.end - info.begin == numel * ds, "{}: tensor '{}' has {} bytes but {} x {} needs {}", path_,
                      name, info.end - info.begin, info.dtype, shape_str(info.shape), numel * ds);
    tensors_.emplace(name, std::move(info));
  }
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  GRACE_INPUT_CHECK(it != tensors_.end(), "{}: tensor '{}' not found", path_, name);
  return it->second;
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& t = info(name);
  GRACE_INPUT_CHECK(expected_shape.empty() || t.shape == expected_shape, "{}: tensor '{}' has shape {}, expected {}",
                    path_, name, shape_str(t.shape), shape_str(expected_shape));
  GRACE_INPUT_CHECK(t.dtype == "F32" || t.dtype == "BF16" || t.dtype == "F16",
                    "{}: tensor '{}' has dtype {} (supported: F32, BF16, F16)", path_, name, t.dtype);
  std::ifstream in(path_, std::ios::binary);
  GRACE_INPUT_CHECK(in.good(), "{}: cannot open safetensors file", path_);
  std::string raw(size_t(t.end - t.begin), '\0');
  in.seekg(data_start_ + t.begin);
  in.read(raw.data(), std::streamsize(raw.size()));
  GRACE_INPUT_CHECK(in.good() || raw.empty(), "{}: tensor '{}' is truncated", path_, name);
  const int ds = dtype_size(t.dtype);
  std::vector<float> out(raw.size() / ds);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(raw.data());
  for (size_t i = 0; i < out.size(); ++i) {
    if (ds == 4) {
      uint32_t bits = uint32_t(p[4 * i]) | uint32_t(p[4 * i + 1]) << 8 | uint32_t(p[4 * i + 2]) << 16 |
                      uint32_t(p[4 * i + 3]) << 24;
      std::memcpy(&out[i], &bits, 4);
    } else {
      const uint16_t v = uint16_t(p[2 * i] | (p[2 * i + 1] << 8));
      out[i] = t.dtype == "BF16" ? bf16_to_f32(v) : f16_to_f32(v);
    }
  }
  return out;
}

void write_safetensors(const std::string& path, const std::map<std::string, TensorToWrite>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    const int ds = dtype_size(t.dtype);
    GRACE_INPUT_CHECK(t.dtype == "F32" || t.dtype == "BF16" || t.dtype == "F16",
                      "write_safetensors: unsupported dtype {}", t.dtype);
    const int64_t begin = int64_t(data.size());
    for (float v : t.values) {
      if (ds == 4) {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        for (int b = 0; b < 4; ++b) data.push_back(char((bits >> (8 * b)) & 0xFF));
      } else {
        const uint16_t h = t.dtype == "BF16" ? f32_to_bf16(v) : f32_to_f16(v);
        data.push_back(char(h & 0xFF));
        data.push_back(char(h >> 8));
      }
    }
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, int64_t(data.size())}}};
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');  // the format pads the header with spaces
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int b = 0; b < 8; ++b) out[b] = char((n >> (8 * b)) & 0xFF);
  out += h;
  out += data;
  write_file_atomic(path, out);
}

}  // namespace grace::engine
