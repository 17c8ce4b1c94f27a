// Private to src/placement: compact JSON text for integer matrices (one row per line, so the
// exports stay readable and diffable).
#ifndef GRACE_PLACEMENT_JSON_ROWS_H_
#define GRACE_PLACEMENT_JSON_ROWS_H_

#include <cstdint>
#include <string>

namespace grace::detail {

// "[a, b, c]"
inline void append_int_row(std::string& s, const int32_t* row, int n) {
  s += '[';
  for (int i = 0; i < n; ++i) {
    if (i) s += ", ";
    s += std::to_string(row[i]);
  }
  s += ']';
}

// "[\n<indent>[..],\n<indent>[..]]" for `rows` rows of `n` entries laid out contiguously.
inline void append_int_matrix(std::string& s, const int32_t* data, int rows, int n, const char* indent) {
  s += '[';
  for (int r = 0; r < rows; ++r) {
    s += r ? ",\n" : "\n";
    s += indent;
    append_int_row(s, data + size_t(r) * n, n);
  }
  s += ']';
}

}  // namespace grace::detail

#endif  // GRACE_PLACEMENT_JSON_ROWS_H_
