// grace: the command-line entry point. Subcommands are defined in cmd_*.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.h"
#include "grace/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "grace: plan, route, evaluate and run distributed Mixture-of-Experts inference with affinity "
      "grouping, replication and locality-aware routing."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "grace 0.1.0");
  grace::cli::add_trace_command(app);
  grace::cli::add_plan_command(app);
  grace::cli::add_export_command(app);
  grace::cli::add_validate_command(app);
  grace::cli::add_evaluate_command(app);
  grace::cli::add_simulate_command(app);
  grace::cli::add_compare_command(app);
  grace::cli::add_run_command(app);
  grace::cli::add_replan_command(app);
  grace::cli::add_drift_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const grace::InputError& e) {
    std::fprintf(stderr, "grace: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grace: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
