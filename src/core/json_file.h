// The one reader of grace's JSON input files (model, topology, placement; the serving-system
// imports can adopt it with parse_json_text). Every problem is one InputError line that starts
// with `who` (e.g. "placement 'p.json'") and names the key at fault:
//   - the file is read with a size cap (kMaxJsonBytes), so /dev/zero or a FIFO ends;
//   - a key repeated in one object is rejected (nlohmann would keep the last silently);
//   - check_keys rejects a key the format does not know, listing the known ones;
//   - the typed getters reject a wrong type or an out-of-range number naming the key, and
//     never let a nlohmann exception ("[json.exception.type_error.302] ...") escape.
#ifndef GRACE_CORE_JSON_FILE_H_
#define GRACE_CORE_JSON_FILE_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

namespace grace {

// 64 MiB: a placement of 4096 layers x 1024 experts is ~50 MB; real ones are under 2 MB.
inline constexpr size_t kMaxJsonBytes = size_t(64) << 20;

// Reads a whole input file of at most max_bytes (a directory, a missing file or a longer one
// is an InputError naming `who`).
std::string read_input_file(const std::string& path, const std::string& who, size_t max_bytes = kMaxJsonBytes);

// JSON text of j for output (indent < 0: compact). A string that is not valid UTF-8 (a path is
// any bytes on Linux) gets U+FFFD for its bad bytes instead of nlohmann's type_error 316, which
// ended `compare` and `validate --json` on such a path as an internal error.
std::string dump_json(const nlohmann::json& j, int indent = -1);

// Parses JSON text, rejecting duplicate keys.
nlohmann::json parse_json_text(const std::string& text, const std::string& who);

// read_input_file + parse_json_text.
nlohmann::json read_json_file(const std::string& path, const std::string& who, size_t max_bytes = kMaxJsonBytes);

// Throws when `obj` (an object) holds a key not in `known`. `where` is "" or e.g. "topology: ".
void check_keys(const nlohmann::json& obj, std::initializer_list<const char*> known, const std::string& who,
                const std::string& where = "");

// Typed fields of an object. `required` false: returns `fallback` when the key is absent.
int64_t json_int(const nlohmann::json& obj, const char* key, int64_t lo, int64_t hi, const std::string& who,
                 const std::string& where = "", bool required = true, int64_t fallback = 0);
double json_number(const nlohmann::json& obj, const char* key, const std::string& who, const std::string& where = "",
                   bool required = true, double fallback = 0);
std::string json_string(const nlohmann::json& obj, const char* key, const std::string& who,
                        const std::string& where = "", bool required = true, const std::string& fallback = "");

// A short rendering of a JSON value for messages (quoted, cut at 200 characters).
std::string json_excerpt(const nlohmann::json& v);

}  // namespace grace

#endif  // GRACE_CORE_JSON_FILE_H_
