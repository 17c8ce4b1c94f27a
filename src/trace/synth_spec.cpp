// parse_synthetic_spec: "synthetic:MODEL[:TOKENS[:SEED]]" trace arguments.
#include <charconv>
#include <string>
#include <vector>

#include "grace/error.h"
#include "grace/synth.h"

namespace grace {
namespace {

int64_t parse_count(const std::string& text, const std::string& arg, const char* what, int64_t lo) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  GRACE_INPUT_CHECK(ec == std::errc() && p == text.data() + text.size() && v >= lo,
                    "trace '{}': {} '{}' is not an integer >= {}", arg, what, text, lo);
  return v;
}

}  // namespace

bool parse_synthetic_spec(const std::string& arg, ModelSpec* model, SynthOptions* opt) {
  const std::string prefix = "synthetic:";
  if (arg.rfind(prefix, 0) != 0) return false;
  std::vector<std::string> parts;
  size_t start = prefix.size();
  while (true) {
    size_t colon = arg.find(':', start);
    parts.push_back(arg.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  GRACE_INPUT_CHECK(parts.size() <= 3 && !parts[0].empty(), "trace '{}': expected synthetic:MODEL[:TOKENS[:SEED]]",
                    arg);
  *model = load_model(parts[0]);
  *opt = SynthOptions{};
  if (parts.size() >= 2) opt->tokens = parse_count(parts[1], arg, "TOKENS", 1);
  if (parts.size() >= 3) opt->seed = uint64_t(parse_count(parts[2], arg, "SEED", 0));
  return true;
}

}  // namespace grace
