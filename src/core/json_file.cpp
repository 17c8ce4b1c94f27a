#include "core/json_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

#include "core/output_path.h"
#include "grace/error.h"

namespace grace {
namespace {

using nlohmann::json;

// nlohmann's messages start with "[json.exception.parse_error.101] "; users need the rest.
std::string strip_id(const char* what) {
  std::string s(what);
  if (s.rfind("[json.exception.", 0) == 0) {
    const size_t end = s.find("] ");
    if (end != std::string::npos) s = s.substr(end + 2);
  }
  // The message quotes the input's last bytes ("last read: '\x93'"): a binary file's bytes are
  // not text, so they are escaped (a Python caller would otherwise get an empty message).
  std::string out;
  for (unsigned char c : s) out += c >= 0x80 ? fmt::format("\\x{:02x}", c) : std::string(1, char(c));
  return out;
}

const json* find(const json& obj, const char* key, const std::string& who, const std::string& where, bool required) {
  GRACE_INPUT_CHECK(obj.is_object(), "{}: {}expected an object, got {}", who, where, json_excerpt(obj));
  auto it = obj.find(key);
  if (it == obj.end()) {
    GRACE_INPUT_CHECK(!required, "{}: {}missing field '{}'", who, where, key);
    return nullptr;
  }
  return &*it;
}

}  // namespace

std::string dump_json(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_excerpt(const nlohmann::json& v) {
  // dump() of a huge array would be the whole file: cut by type first.
  if (v.is_array()) return fmt::format("an array of {} elements", v.size());
  if (v.is_object()) return fmt::format("an object of {} keys", v.size());
  if (v.is_string()) {  // JSON form: quotes, control characters escaped; cut when long
    const std::string& str = v.get_ref<const std::string&>();
    if (str.size() <= 200) return dump_json(v);
    return dump_json(nlohmann::json(str.substr(0, 200))) + fmt::format("...({} bytes)", str.size());
  }
  return dump_json(v);
}

std::string read_input_file(const std::string& path, const std::string& who, size_t max_bytes) {
  struct stat st;
  GRACE_INPUT_CHECK(::stat(path.c_str(), &st) == 0, "{}: cannot read: {}", who, std::strerror(errno));
  GRACE_INPUT_CHECK(!S_ISDIR(st.st_mode), "{}: is a directory, expected a file", who);
  FILE* f = std::fopen(path.c_str(), "rb");
  GRACE_INPUT_CHECK(f != nullptr, "{}: cannot read: {}", who, std::strerror(errno));
  std::string out;
  std::vector<char> buf(size_t(1) << 16);
  bool over = false;
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n == 0) break;
    if (out.size() + n > max_bytes) {
      over = true;
      break;
    }
    out.append(buf.data(), n);
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  GRACE_INPUT_CHECK(!over, "{}: larger than the {} MiB limit of a JSON input", who, max_bytes >> 20);
  GRACE_INPUT_CHECK(!failed, "{}: cannot read: {}", who, std::strerror(err));
  note_input(path);
  return out;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& who) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  auto check = [&](int /*depth*/, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second)
          fail_input("{}: duplicate key {} (each key may appear once in an object)", who,
                     quote_input(parsed.get<std::string>()));
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text, check);
  } catch (const json::exception& e) {
    fail_input("{}: not valid JSON: {}", who, strip_id(e.what()));
  }
}

nlohmann::json read_json_file(const std::string& path, const std::string& who, size_t max_bytes) {
  return parse_json_text(read_input_file(path, who, max_bytes), who);
}

void check_keys(const nlohmann::json& obj, std::initializer_list<const char*> known, const std::string& who,
                const std::string& where) {
  GRACE_INPUT_CHECK(obj.is_object(), "{}: {}expected an object, got {}", who, where, json_excerpt(obj));
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (ok) continue;
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    fail_input("{}: {}unknown key {} (known: {})", who, where, quote_input(it.key()), list);
  }
}

int64_t json_int(const nlohmann::json& obj, const char* key, int64_t lo, int64_t hi, const std::string& who,
                 const std::string& where, bool required, int64_t fallback) {
  const json* v = find(obj, key, who, where, required);
  if (!v) return fallback;
  GRACE_INPUT_CHECK(v->is_number_integer(), "{}: {}'{}' must be an integer, got {}", who, where, key, json_excerpt(*v));
  GRACE_INPUT_CHECK(!v->is_number_unsigned() || v->get<uint64_t>() <= uint64_t(INT64_MAX),
                    "{}: {}'{}' = {} is out of range [{}, {}]", who, where, key, v->dump(), lo, hi);
  const int64_t x = v->get<int64_t>();
  GRACE_INPUT_CHECK(x >= lo && x <= hi, "{}: {}'{}' = {} is out of range [{}, {}]", who, where, key, x, lo, hi);
  return x;
}

double json_number(const nlohmann::json& obj, const char* key, const std::string& who, const std::string& where,
                   bool required, double fallback) {
  const json* v = find(obj, key, who, where, required);
  if (!v) return fallback;
  GRACE_INPUT_CHECK(v->is_number(), "{}: {}'{}' must be a number, got {}", who, where, key, json_excerpt(*v));
  const double x = v->get<double>();
  GRACE_INPUT_CHECK(std::isfinite(x), "{}: {}'{}' must be finite", who, where, key);
  return x;
}

std::string json_string(const nlohmann::json& obj, const char* key, const std::string& who, const std::string& where,
                        bool required, const std::string& fallback) {
  const json* v = find(obj, key, who, where, required);
  if (!v) return fallback;
  GRACE_INPUT_CHECK(v->is_string(), "{}: {}'{}' must be a string, got {}", who, where, key, json_excerpt(*v));
  return v->get<std::string>();
}

}  // namespace grace
