// grace: the command-line entry point. Subcommands are defined in cmd_*.cpp.
//
// One error path: every failure a user can cause (a CLI parse error, bad input, a path the
// system refuses, memory the inputs would need, a failed write to stdout) ends as one line
// `grace: error: <where>: <problem>` on stderr and exit code 2. Exit 1 is left for bugs in grace
// (a broken internal check), also one line.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>

#include "cli_checks.h"
#include "commands.h"
#include "core/cleanup.h"
#include "grace/error.h"

namespace {

int fail(const std::string& message, int code = 2) {
  std::fflush(stdout);
  std::fprintf(stderr, "grace: %s: %s\n", code == 2 ? "error" : "internal error", grace::one_line(message).c_str());
  return code;
}

std::string filesystem_message(const std::filesystem::filesystem_error& e) {
  std::string where;
  if (!e.path1().empty()) where = grace::quote_input(e.path1().string());
  if (!e.path2().empty()) where += (where.empty() ? "" : " -> ") + grace::quote_input(e.path2().string());
  return (where.empty() ? std::string("file system") : where) + ": " + e.code().message();
}

// Stdout is where results go: a result that could not be written is a failure, not a success.
int finish(int code) {
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int err = errno;
    std::fprintf(stderr, "grace: error: cannot write to standard output: %s\n",
                 err ? std::strerror(err) : "write error");
    return 2;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  grace::install_cleanup_handlers();  // SIGINT/SIGTERM/SIGHUP remove temporaries first
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
  grace::cli::add_cli_checks(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return finish(app.exit(e));
  } catch (const CLI::CallForAllHelp& e) {
    return finish(app.exit(e));
  } catch (const CLI::CallForVersion& e) {
    return finish(app.exit(e));
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (run with --help for usage)");
  } catch (const grace::InputError& e) {
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory: the inputs need more memory than is available (limits: docs/reliability.md)");
  } catch (const std::filesystem::filesystem_error& e) {
    return fail(filesystem_message(e));
  } catch (const std::exception& e) {
    return fail(e.what(), 1);
  }
  return finish(0);
}
