// Running the grace binary from a test: arguments, stdin/stdout redirection, exit code and the
// captured stderr. GRACE_TEST_CLI overrides the binary (to check that a test fails on an older
// build: GRACE_TEST_CLI=/path/to/old/grace ./reliability_test).
#ifndef GRACE_TESTS_RELIABILITY_CLI_RUN_H_
#define GRACE_TESTS_RELIABILITY_CLI_RUN_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace grace::reliability {

struct CliResult {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
  std::string out, err;
};

inline std::string cli_path() {
  const char* env = std::getenv("GRACE_TEST_CLI");
  return env && *env ? env : GRACE_CLI_PATH;
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs grace with `args` under `timeout` (so a hang fails the test instead of the suite).
// stdout_to: a path for stdout (e.g. "/dev/full"); empty: captured into CliResult::out.
inline CliResult run_grace(const std::vector<std::string>& args, const std::string& stdout_to = "", int timeout_s = 120,
                           const std::string& env = "") {
  static int counter = 0;
  const std::string base = (std::filesystem::temp_directory_path() /
                            ("grace-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                               .string();
  std::string cmd =
      env + (env.empty() ? "" : " ") + "timeout -s KILL " + std::to_string(timeout_s) + " " + shell_quote(cli_path());
  for (const auto& a : args) {
    cmd += ' ';
    cmd += shell_quote(a);
  }
  const std::string so = stdout_to.empty() ? base + ".out" : stdout_to;
  cmd += " >" + shell_quote(so) + " 2>" + shell_quote(base + ".err") + " </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (r.exit_code == 137) r.exit_code = -1, r.signal = 9;  // timeout's KILL
  if (stdout_to.empty()) r.out = slurp_file(so), std::filesystem::remove(so);
  r.err = slurp_file(base + ".err");
  std::filesystem::remove(base + ".err");
  return r;
}

// Everything under `dir`, read while the child may be creating and removing entries (its
// staging folder, the output-place probe): a walk that meets a vanished entry starts again.
inline std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  for (int attempt = 0; attempt < 100; ++attempt) {
    out.clear();
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(dir, ec), end;
    while (!ec && it != end) {
      out.push_back(it->path().string());
      it.increment(ec);
    }
    if (!ec || (ec == std::errc::no_such_file_or_directory && !std::filesystem::exists(dir))) break;
  }
  return out;
}

// The user-error contract: exit 2 and exactly one line "grace: error: ..." with no control
// characters, at most max_bytes long.
inline std::string contract_problem(const CliResult& r, size_t max_bytes = 2000) {
  if (r.exit_code != 2) return "exit code " + std::to_string(r.exit_code) + ", expected 2";
  if (r.err.empty() || r.err.back() != '\n') return "stderr is not one line ending in a newline";
  if (r.err.find('\n') != r.err.size() - 1) return "stderr has more than one line";
  if (r.err.rfind("grace: error: ", 0) != 0) return "stderr does not start with 'grace: error: '";
  for (size_t i = 0; i + 1 < r.err.size(); ++i)
    if (static_cast<unsigned char>(r.err[i]) < 0x20 || r.err[i] == 0x7f) return "stderr holds a control character";
  if (r.err.size() > max_bytes) return "stderr is " + std::to_string(r.err.size()) + " bytes long";
  return "";
}

}  // namespace grace::reliability

// Checks the contract and that the line holds each of `parts`.
#define EXPECT_USER_ERROR(result, ...)                                                                                \
  do {                                                                                                                \
    const ::grace::reliability::CliResult& r_ = (result);                                                             \
    EXPECT_EQ(::grace::reliability::contract_problem(r_), "") << "stderr: " << r_.err.substr(0, 2000);                \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__})                                            \
      EXPECT_NE(r_.err.find(part_), std::string::npos) << "missing '" << part_ << "' in: " << r_.err.substr(0, 2000); \
  } while (0)

#endif  // GRACE_TESTS_RELIABILITY_CLI_RUN_H_
