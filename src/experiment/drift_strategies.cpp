// The names of `grace drift --strategies` (grace/drift_run.h): splitting, checking, and the work
// they ask for.
#include <string>
#include <vector>

#include "grace/drift_run.h"
#include "grace/error.h"

namespace grace {

std::vector<std::string> split_strategies(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const std::string& g : given) {
    size_t begin = 0;
    while (true) {
      const size_t comma = g.find(',', begin);
      const std::string s = g.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
      GRACE_INPUT_CHECK(!s.empty(), "--strategies: empty entry in '{}' (a comma too many?)", one_line(g));
      out.push_back(s);
      if (comma == std::string::npos) break;
      begin = comma + 1;
    }
  }
  return out;
}

// Refuses anything but the strategies' names, and a K that is not a positive whole number.
int strategy_period(const std::string& s) {
  if (s == "static" || s == "replan") return 0;
  const auto colon = s.find(':');
  const std::string kind = s.substr(0, colon);
  GRACE_INPUT_CHECK((kind == "eplb" || kind == "grace") && colon != std::string::npos,
                    "--strategies: unknown strategy '{}' (valid: static, replan, eplb:K, grace:K)", one_line(s));
  const std::string digits = s.substr(colon + 1);
  int k = 0;
  if (!digits.empty() && digits.size() <= 9 && digits.find_first_not_of("0123456789") == std::string::npos)
    k = std::stoi(digits);
  GRACE_INPUT_CHECK(k > 0, "--strategies '{}': K must be a positive whole number of windows", one_line(s));
  return k;
}

double replans_per_window(const std::vector<std::string>& strategies) {
  double r = 1;  // the drift replay itself re-plans every window
  for (const std::string& s : strategies) {
    if (s == "replan")
      r += 1;
    else if (const int k = strategy_period(s); k > 0)
      r += 1.0 / k;
  }
  return r;
}

void check_strategies(const std::vector<std::string>& strategies) {
  for (size_t i = 0; i < strategies.size(); ++i) {
    strategy_period(strategies[i]);
    for (size_t j = 0; j < i; ++j)
      GRACE_INPUT_CHECK(strategies[j] != strategies[i], "--strategies: '{}' is given twice", strategies[i]);
  }
}

}  // namespace grace
