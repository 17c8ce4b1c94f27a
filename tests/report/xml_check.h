// A tiny well-formedness check for the generated HTML: every element is closed in order (void
// elements must self-close), attribute values are quoted, '<' never appears in text and every
// '&' starts an entity. Returns "" when fine, else the first problem.
#ifndef GRACE_TESTS_REPORT_XML_CHECK_H_
#define GRACE_TESTS_REPORT_XML_CHECK_H_

#include <cctype>
#include <string>
#include <vector>

namespace grace::testing {

inline std::string check_well_formed(const std::string& s, int* elements = nullptr) {
  std::vector<std::string> stack;
  int count = 0;
  size_t i = 0;
  if (s.rfind("<!DOCTYPE", 0) == 0) i = s.find('>') + 1;
  while (i < s.size()) {
    char c = s[i];
    if (c == '&') {
      size_t semi = s.find(';', i);
      if (semi == std::string::npos || semi - i > 8) return "bare '&' at " + std::to_string(i);
      i = semi + 1;
      continue;
    }
    if (c != '<') {
      ++i;
      continue;
    }
    bool closing = i + 1 < s.size() && s[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    size_t name_start = j;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '-' || s[j] == ':')) ++j;
    std::string name = s.substr(name_start, j - name_start);
    if (name.empty()) return "'<' in text at " + std::to_string(i);
    // Scan to the end of the tag, honouring quoted attribute values.
    char quote = 0;
    while (j < s.size() && (quote || s[j] != '>')) {
      if (quote && s[j] == quote)
        quote = 0;
      else if (!quote && (s[j] == '"' || s[j] == '\''))
        quote = s[j];
      else if (!quote && s[j] == '=' && j + 1 < s.size() && s[j + 1] != '"' && s[j + 1] != '\'')
        return "unquoted attribute in <" + name + "> at " + std::to_string(i);
      ++j;
    }
    if (j >= s.size()) return "unterminated tag <" + name + ">";
    bool self_closing = s[j - 1] == '/';
    if (closing) {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> does not close <" + (stack.empty() ? std::string("nothing") : stack.back()) + ">";
      stack.pop_back();
    } else {
      ++count;
      if (!self_closing) {
        if (name == "meta" || name == "br" || name == "img" || name == "link" || name == "input" || name == "hr")
          return "void element <" + name + "> not self-closed";
        stack.push_back(name);
        if (name == "style") {  // raw text until </style>
          size_t end = s.find("</style>", j);
          if (end == std::string::npos) return "unterminated <style>";
          i = end;
          continue;
        }
      }
    }
    i = j + 1;
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (elements) *elements = count;
  return "";
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_REPORT_XML_CHECK_H_
