// Runs a shell command for the CLI and browser tests, capturing exit code and output.
#ifndef GRACE_TESTS_REPORT_RUN_COMMAND_H_
#define GRACE_TESTS_REPORT_RUN_COMMAND_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace grace::testing {

struct CmdResult {
  int code = -1;    // exit status, -1 if it did not exit normally
  std::string out;  // stdout and stderr together
};

inline CmdResult run(const std::string& cmd) {
  CmdResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace grace::testing

#endif  // GRACE_TESTS_REPORT_RUN_COMMAND_H_
