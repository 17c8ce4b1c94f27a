// grace compare: placeholder until its module lands.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "grace/error.h"

namespace grace::cli {

void add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "(not implemented yet)");
  cmd->callback([] { fail_input("'grace compare' is not implemented yet"); });
}

}  // namespace grace::cli
