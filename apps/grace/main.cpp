// grace: the command-line entry point. Subcommands are defined in cmd_*.cpp.
//
// One error path: every failure a user can cause (a CLI parse error, bad input, a path the
// system refuses, memory the inputs would need, a failed write to stdout) ends as one line
// `grace: error: <where>: <problem>` on stderr and exit code 2. Exit 1 is left for bugs in grace
// (a broken internal check), also one line.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "cli_checks.h"
#include "commands.h"
#include "core/cleanup.h"
#include "core/output_path.h"
#ifdef GRACE_HAVE_ENGINE
#include "engine/blas_threads.h"
#endif
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

// When the command line names no known command: "unknown command 'x' (commands: ...)", naming the
// word where CLI11 only says that a subcommand is required. Empty when the words are known.
std::string unknown_command(CLI::App& app, int argc, char** argv) {
  CLI::App* cur = &app;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string tok = argv[i];
    std::vector<CLI::App*> subs = cur->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) return "";
    std::string names;
    for (CLI::App* sub : subs) names += (names.empty() ? "" : ", ") + sub->get_name();
    if (!tok.empty() && tok[0] == '-') {
      if (tok == "-h" || tok == "--help" || tok == "--version") return "";
      return "unknown option " + grace::quote_input(tok) + (path.empty() ? "" : " of '" + path + "'") +
             " before a command (" + (path.empty() ? "commands" : path + " commands") + ": " + names + ")";
    }
    CLI::App* next = nullptr;
    for (CLI::App* sub : subs)
      if (sub->get_name() == tok) next = sub;
    if (next == nullptr)
      return "unknown command " + grace::quote_input(path.empty() ? tok : path + " " + tok) + " (" +
             (path.empty() ? "commands" : path + " commands") + ": " + names + ")";
    path += (path.empty() ? "" : " ") + tok;
    cur = next;
  }
  std::string names;
  for (CLI::App* sub : cur->get_subcommands([](CLI::App*) { return true; }))
    names += (names.empty() ? "" : ", ") + sub->get_name();
  if (names.empty()) return "";
  return path.empty() ? "give a command (commands: " + names + ")"
                      : "'" + path + "' needs a command (" + path + " commands: " + names + ")";
}

// `grace run` under mpirun: every rank parses the same command line, so a parse error would be
// printed once per rank. Only rank 0 prints it at once (all ranks exit 2; the others wait for
// mpirun to end them, kQuietRankWait). Errors after parsing are
// reported by the engine's start-up agreement (the lowest failing rank).
constexpr std::chrono::seconds kQuietRankWait{5};

bool quiet_rank(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "run") return false;
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char* v = std::getenv(var); v && *v) return std::string(v) != "0";
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  grace::install_cleanup_handlers();  // SIGINT/SIGTERM/SIGHUP remove temporaries first
  grace::guard_inputs();              // no output is written over a file the command read
#ifdef GRACE_HAVE_ENGINE
  grace::engine::park_blas_threads();  // OpenBLAS's spinning workers off the planner's cores
#endif
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
    try {
      app.parse(argc, argv);
    } catch (const CLI::Error& e) {
      // Help and version are CLI::Error too: printed by rank 0 only as well. A quiet rank that
      // exited at once could have mpirun abort the job before rank 0's error line is out, so it
      // waits for mpirun to end it. Still alive after a few seconds, rank 0 parsed its own line
      // (an MPMD launch with other options): then this rank prints its error itself.
      if (quiet_rank(argc, argv) && e.get_exit_code() != 0) std::this_thread::sleep_for(kQuietRankWait);
      throw;
    }
  } catch (const CLI::CallForHelp& e) {
    return finish(app.exit(e));
  } catch (const CLI::CallForAllHelp& e) {
    return finish(app.exit(e));
  } catch (const CLI::CallForVersion& e) {
    return finish(app.exit(e));
  } catch (const CLI::ConversionError& e) {
    // A whole number the validators let through (cli_checks.cpp) that its 32-bit option cannot hold.
    const std::string what = e.what();
    const std::string prefix = "Could not convert: ";
    const size_t eq = what.find(" = ");
    if (what.rfind(prefix, 0) == 0 && eq != std::string::npos)
      return fail(what.substr(prefix.size(), eq - prefix.size()) + ": " + grace::quote_input(what.substr(eq + 3)) +
                  " is out of range (at most 2147483647) (run with --help for usage)");
    return fail(what + " (run with --help for usage)");
  } catch (const CLI::ParseError& e) {
    if (const std::string unknown = unknown_command(app, argc, argv); !unknown.empty())
      return fail(unknown + " (run with --help for usage)");
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
