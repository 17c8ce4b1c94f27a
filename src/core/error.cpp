#include "grace/error.h"

#include <algorithm>

namespace grace {
namespace {

void escape_into(std::string& out, unsigned char c, bool backslash = true) {
  switch (c) {
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\\':
      out += backslash ? "\\\\" : "\\";
      return;
    default:
      break;
  }
  if (c < 0x20 || c == 0x7f) {
    out += fmt::format("\\x{:02x}", c);
    return;
  }
  out.push_back(char(c));  // printable ASCII, or a byte of a UTF-8 sequence
}

}  // namespace

void fail_internal(const char* file, int line, const char* cond, const std::string& msg) {
  throw Error(
      fmt::format("internal error at {}:{}: check '{}' failed{}{}", file, line, cond, msg.empty() ? "" : ": ", msg));
}

std::string quote_input(std::string_view text, size_t max_chars) {
  std::string out = "'";
  const size_t keep = std::min(text.size(), max_chars);
  for (size_t i = 0; i < keep; ++i) escape_into(out, static_cast<unsigned char>(text[i]));
  out += "'";
  if (keep < text.size()) out += fmt::format("...({} bytes)", text.size());
  return out;
}

std::string one_line(std::string_view message, size_t max_chars) {
  std::string out;
  if (message.size() <= max_chars) {
    for (char c : message) escape_into(out, static_cast<unsigned char>(c), false);
    return out;
  }
  const size_t head = max_chars * 3 / 4, tail = max_chars - head;
  for (size_t i = 0; i < head; ++i) escape_into(out, static_cast<unsigned char>(message[i]), false);
  out += fmt::format(" [... {} bytes cut ...] ", message.size() - head - tail);
  for (size_t i = message.size() - tail; i < message.size(); ++i)
    escape_into(out, static_cast<unsigned char>(message[i]), false);
  return out;
}

}  // namespace grace
