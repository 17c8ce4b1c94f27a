// The --router option's help text, generated from the router registry (grace/router.h), so that
// every command lists the same routers with the same one-line descriptions.
#ifndef GRACE_APPS_ROUTER_OPTION_H_
#define GRACE_APPS_ROUTER_OPTION_H_

#include <string>
#include <string_view>

namespace grace::cli {

// "<lead>:" then one "name  description" line per registered router.
std::string router_option_help(std::string_view lead = "Router");

}  // namespace grace::cli

#endif  // GRACE_APPS_ROUTER_OPTION_H_
