// grace simulate: placeholder until its module lands.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "grace/error.h"

namespace grace::cli {

void add_simulate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("simulate", "(not implemented yet)");
  cmd->callback([] { fail_input("'grace simulate' is not implemented yet"); });
}

}  // namespace grace::cli
