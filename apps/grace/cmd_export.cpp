// grace export: placeholder until its module lands.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "grace/error.h"

namespace grace::cli {

void add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "(not implemented yet)");
  cmd->callback([] { fail_input("'grace export' is not implemented yet"); });
}

}  // namespace grace::cli
