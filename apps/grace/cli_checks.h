// Checks applied to every subcommand's options at once (main() calls add_cli_checks).
//
// Numbers are checked exactly.
// Every numeric flag of grace is a count, a size, a seed or a ratio: none takes a negative value.
// CLI11 alone would read `--seed -1` as 2^64-1, `--batch-tokens 99999999999999999999` as
// INT64_MAX, `010` as octal 8 and `0x10` as 16. check_numbers() adds one check to every option
// of type INT, UINT or FLOAT: integers must be plain decimal digits that fit 64 bits (the
// option's own type then rejects what does not fit it), floats finite, all non-negative.
//
// Output paths (-o / --out / --output): not empty, no path component over 255 bytes, the
// whole path under 4096 bytes, so a bad -o fails before any work is done.
#ifndef GRACE_APPS_CLI_CHECKS_H_
#define GRACE_APPS_CLI_CHECKS_H_

namespace CLI {
class App;
}

namespace grace::cli {

// Walks `app` and its subcommands, recursively; call once all options are added.
void add_cli_checks(CLI::App& app);

}  // namespace grace::cli

#endif  // GRACE_APPS_CLI_CHECKS_H_
