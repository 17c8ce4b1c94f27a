// grace run: placeholder until its module lands.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "grace/error.h"

namespace grace::cli {

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "(not implemented yet)");
  cmd->callback([] { fail_input("'grace run' is not implemented yet"); });
}

}  // namespace grace::cli
