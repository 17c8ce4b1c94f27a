// grace trace: placeholder until its module lands.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "grace/error.h"

namespace grace::cli {

void add_trace_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("trace", "(not implemented yet)");
  cmd->callback([] { fail_input("'grace trace' is not implemented yet"); });
}

}  // namespace grace::cli
