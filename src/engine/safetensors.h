// Safetensors files (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32"|"BF16"|"F16"|..., "shape": [...], "data_offsets": [begin, end]},
//  "__metadata__": {...}}, then the data; offsets are relative to the end of the header.
//
// SafetensorsFile reads the header eagerly (checking that every tensor's byte range fits the
// file and matches dtype x shape) and tensor data on demand, converting F32/BF16/F16 to F32.
// Every problem is an InputError naming the file (and the tensor). write_safetensors writes
// such a file atomically (tests and tools).
#ifndef GRACE_ENGINE_SAFETENSORS_H_
#define GRACE_ENGINE_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace grace::engine {

struct TensorInfo {
  std::string dtype;  // "F32", "BF16", "F16", ...
  std::vector<int64_t> shape;
  int64_t begin = 0, end = 0;  // byte range relative to the data section
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(std::string path);

  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // InputError if missing
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }

  // Reads a tensor as F32. expected_shape (if non-empty) must match exactly.
  std::vector<float> read_f32(const std::string& name, const std::vector<int64_t>& expected_shape = {}) const;

 private:
  std::string path_;
  int64_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
};

struct TensorToWrite {
  std::string dtype;  // "F32" | "BF16" | "F16"
  std::vector<int64_t> shape;
  std::vector<float> values;  // converted to dtype on write (round to nearest even)
};
void write_safetensors(const std::string& path, const std::map<std::string, TensorToWrite>& tensors);

// Element conversions (exposed for tests).
float bf16_to_f32(uint16_t v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float v);
uint16_t f32_to_f16(float v);

}  // namespace grace::engine

#endif  // GRACE_ENGINE_SAFETENSORS_H_
