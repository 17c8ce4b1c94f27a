#include "cli_checks.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>

#include "core/output_path.h"
#include "grace/batching.h"
#include "grace/comm_scheme.h"
#include "grace/error.h"
#include "grace/experiment.h"
#include "grace/placement_io.h"
#include "grace/planner.h"

namespace grace::cli {
namespace {

// Returns an empty string when `text` is a valid value, else what is wrong (CLI11 prefixes the
// option's name).
// A whole number of decimal digits in [0, max].
std::string check_whole(const std::string& text, uint64_t max) {
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) {
    if (!text.empty() && text[0] == '-') return quote_input(text) + " is negative; expected a whole number";
    return quote_input(text) + " is not a whole number (decimal digits only)";
  }
  uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec == std::errc::result_out_of_range || v > max)
    return quote_input(text) + " is out of range (at most " + std::to_string(max) + ")";
  return {};
}

std::string check_integer(const std::string& text) { return check_whole(text, uint64_t(INT64_MAX)); }
std::string check_unsigned(const std::string& text) { return check_whole(text, UINT64_MAX); }

std::string check_float(const std::string& text) {
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(v))
    return quote_input(text) + " is not a finite number";
  if (v < 0) return quote_input(text) + " is negative; expected a number";
  return {};
}

std::string check_output(const std::string& text) {
  try {
    check_output_path(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return {};
}

// A name option (--batching, --comm, --split, --format, --policy) checked by the library's own
// parser, so that its error names the option: "--comm: unknown communication scheme 'x' (...)".
template <typename Parse>
CLI::Validator parsed_by(Parse parse) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        try {
          parse(text);
        } catch (const InputError& e) {
          return e.what();
        }
        return {};
      },
      "", "name");
}

bool has_name(const CLI::Option& opt, const char* name) {
  const auto& names = opt.get_lnames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool is_output(const CLI::Option& opt) {
  for (const std::string& name : opt.get_lnames())
    if (name == "out" || name == "output" || name == "html" || name == "dump-loads") return true;
  for (const std::string& name : opt.get_snames())
    if (name == "o") return true;
  return false;
}

void walk(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    const std::string type = opt->get_type_name();
    if (is_output(*opt)) opt->check(CLI::Validator(check_output, "", "output path"));
    if (has_name(*opt, "batching")) opt->check(parsed_by(parse_batching));
    if (has_name(*opt, "comm")) opt->check(parsed_by(parse_comm_scheme));
    if (has_name(*opt, "split")) opt->check(parsed_by(parse_split_rule));
    if (has_name(*opt, "format") && app.get_name() == "export") opt->check(parsed_by(parse_export_format));
    if (has_name(*opt, "policy") && app.get_name() == "plan")
      opt->check(parsed_by([](const std::string& name) {
        if (name != "all") make_planner(name);
      }));
    if (type == "INT")
      opt->check(CLI::Validator(check_integer, "", "integer"));
    else if (type == "UINT")
      opt->check(CLI::Validator(check_unsigned, "", "unsigned"));
    else if (type == "FLOAT")
      opt->check(CLI::Validator(check_float, "", "number"));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) walk(*sub);
}

}  // namespace

void add_cli_checks(CLI::App& app) { walk(app); }

}  // namespace grace::cli
