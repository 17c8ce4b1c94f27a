// grace plan: placeholder until its module lands.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "grace/error.h"

namespace grace::cli {

void add_plan_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("plan", "(not implemented yet)");
  cmd->callback([] { fail_input("'grace plan' is not implemented yet"); });
}

}  // namespace grace::cli
