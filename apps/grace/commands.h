// Each `grace` subcommand lives in its own cmd_*.cpp and is added to the app here.
// Commands throw grace::InputError for bad input; main() turns it into one line and exit 2.
#ifndef GRACE_APPS_COMMANDS_H_
#define GRACE_APPS_COMMANDS_H_

namespace CLI {
class App;
}

namespace grace::cli {

void add_trace_command(CLI::App& app);           // grace trace synth|stats|convert|import-sglang
void add_trace_import_command(CLI::App& trace);  // grace trace import-sglang (cmd_trace_import.cpp)
void add_plan_command(CLI::App& app);            // grace plan
void add_export_command(CLI::App& app);          // grace export
void add_validate_command(CLI::App& app);        // grace validate
void add_evaluate_command(CLI::App& app);        // grace evaluate
void add_simulate_command(CLI::App& app);        // grace simulate
void add_compare_command(CLI::App& app);         // grace compare
void add_run_command(CLI::App& app);             // grace run (MPI engine)
void add_replan_command(CLI::App& app);          // grace replan
void add_drift_command(CLI::App& app);           // grace drift

}  // namespace grace::cli

#endif  // GRACE_APPS_COMMANDS_H_
