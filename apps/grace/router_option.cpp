// router_option_help: the --router help of every command, one line per registered router.
#include "router_option.h"

#include <fmt/format.h>

#include <algorithm>

#include "grace/router.h"

namespace grace::cli {

std::string router_option_help(std::string_view lead) {
  const auto infos = router_infos();
  size_t width = 0;
  for (const auto& r : infos) width = std::max(width, r.name.size());
  std::string out = fmt::format("{}:", lead);
  for (const auto& r : infos) out += fmt::format("\n  {:<{}}  {}", r.name, width, r.description);
  return out;
}

}  // namespace grace::cli
