// Runs the `grace` binary (GRACE_CLI_PATH) in a shell and captures exit code, stdout, stderr.
#ifndef GRACE_TESTS_CLI_RUNNER_H_
#define GRACE_TESTS_CLI_RUNNER_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace grace::testing {

struct CliResult {
  int code = -1;
  std::string out, err;
  // Number of non-empty lines on stderr.
  int err_lines() const {
    std::istringstream in(err);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += !line.empty();
    return n;
  }
};

// A fresh folder under the system temp folder, removed when the object goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("grace_cli_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Number of entries in the folder (to check that nothing was left behind).
  int count() const {
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path_)) ++n;
    return n;
  }

 private:
  std::filesystem::path path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `grace <args>` (args are passed to the shell as written).
inline CliResult run_grace(const std::string& args) {
  TempDir io("io");
  const std::string out = io.file("stdout"), err = io.file("stderr");
  const std::string cmd = std::string("'") + GRACE_CLI_PATH + "' " + args + " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_CLI_RUNNER_H_
