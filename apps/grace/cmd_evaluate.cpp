// grace evaluate: placeholder until its module lands.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "grace/error.h"

namespace grace::cli {

void add_evaluate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("evaluate", "(not implemented yet)");
  cmd->callback([] { fail_input("'grace evaluate' is not implemented yet"); });
}

}  // namespace grace::cli
