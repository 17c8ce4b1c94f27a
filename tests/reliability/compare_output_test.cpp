// `grace compare` (issue 12, classes 1, 5 and 6): the output folder and the planning cost are
// checked before any work, the report folder appears whole or not at all, SIGINT/SIGTERM/SIGHUP
// during a run on a multi-million-token trace leave nothing, and a 10M-token .npy.gz goes
// through within the memory bound of docs/reliability.md (the trace is streamed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "reliability/big_trace.h"
#include "reliability/cli_run.h"
#include "reliability/fixtures.h"

extern char** environ;

namespace grace::reliability {
namespace {

struct Child {
  pid_t pid = -1;
  int status = 0;
  long max_rss_kb = 0;
};

// Starts grace with stdout to /dev/null and stderr to `err`.
Child spawn(const std::vector<std::string>& args, const std::string& err) {
  std::vector<std::string> all = {cli_path()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Child c;
  EXPECT_EQ(posix_spawn(&c.pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  return c;
}

void wait_for(Child& c) {
  struct rusage ru {};
  ::wait4(c.pid, &c.status, 0, &ru);
  c.max_rss_kb = ru.ru_maxrss;
}


double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class CompareOutput : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("grace-compare-out-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    write_fixtures(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string at(const std::string& rel) { return dir_ + "/" + rel; }
  // A small compare run (tiny model, 2x2) writing to `out`.
  static std::vector<std::string> small(const std::string& out) {
    return {"compare", "--model", at("model.json"), "--trace", at("good"), "--topology", "2x2", "--batch-tokens", "16",
            "-o",      out};
  }
  static std::string dir_;
};
std::string CompareOutput::dir_;

// -o is checked before any combination runs: the error is the only stderr line (no progress
// line) and the file or the user's folder is untouched.
TEST_F(CompareOutput, OutputIsCheckedBeforeTheWork) {
  write_text(at("plainfile"), "precious");
  EXPECT_USER_ERROR(run_grace(small(at("plainfile"))), "plainfile", "not a folder");
  EXPECT_EQ(slurp_file(at("plainfile")), "precious");
  write_text(at("mine/notes.txt"), "mine");
  EXPECT_USER_ERROR(run_grace(small(at("mine"))), "mine", "notes.txt");
  EXPECT_EQ(listing(at("mine")).size(), 1u);
  // A path component over 255 bytes (the system's limit), before the work too.
  EXPECT_USER_ERROR(run_grace(small(at(std::string(300, 'x') + "/c"))), "-o");
  // A good run replaces its own earlier output whole.
  ASSERT_EQ(run_grace(small(at("again"))).exit_code, 0);
  const CliResult r = run_grace(small(at("again")));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(listing(at("again")).size(), 3u);
}

// The planning cost (GPUs x experts x layers, physical slots) is checked before the trace is
// synthesised or planned: a 1024x64 topology fails at once, naming the product.
TEST_F(CompareOutput, PlanningCostIsCheckedFirst) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_USER_ERROR(run_grace({"compare", "--model", "deepseek-v2-lite", "--topology", "1024x64", "--synth-tokens",
                               "4096", "-o", at("huge")},
                              "", 60),
                    "GPUs x experts x layers", "planning work");
  EXPECT_LT(seconds_since(t0), 20.0);
  EXPECT_FALSE(fs::exists(at("huge")));
}

// One row's per-(batch, layer) records (what the simulator reads) are checked against the
// memory limit before the rows run, as `simulate` checks its own.
TEST_F(CompareOutput, RowRecordsAreCheckedAgainstTheMemoryLimit) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_USER_ERROR(run_grace({"compare", "--model", "deepseek-v2-lite", "--synth-tokens", "100000", "--batch-tokens",
                               "1", "-o", at("records")},
                              "", 60, "GRACE_MEMORY_LIMIT_MB=50"),
                    "compare: batches x layers x GPUs", "over the limit");
  EXPECT_LT(seconds_since(t0), 20.0);
  EXPECT_FALSE(fs::exists(at("records")));
}

// A write that fails part-way (file size limit: EFBIG, as on a full disk) leaves no folder, no
// staging folder and none of the missing parents it created.
TEST_F(CompareOutput, FailedWriteLeavesNothing) {
  fs::create_directories(at("fail"));
  const std::string out = at("fail/new1/new2/c");
  std::string cmd = "trap '' XFSZ; ulimit -f 8; exec " + shell_quote(cli_path());
  for (const auto& a : small(out)) {
    cmd += ' ';
    cmd += shell_quote(a);
  }
  const int status =
      std::system(("bash -c " + shell_quote(cmd) + " >/dev/null 2>" + shell_quote(at("fail.err"))).c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status << " " << slurp_file(at("fail.err"));
  const std::string err = slurp_file(at("fail.err"));
  EXPECT_NE(err.find("grace: error: "), std::string::npos) << err;
  EXPECT_NE(err.find("new1/new2/c"), std::string::npos) << err;
  EXPECT_TRUE(listing(at("fail")).empty()) << "left: " << listing(at("fail")).front();
}

// SIGINT, SIGTERM and SIGHUP while compare works on a 3M-token trace: grace dies of the signal
// and leaves nothing in the output's parent.
TEST_F(CompareOutput, SignalsDuringCompareLeaveNothing) {
  ASSERT_EQ(run_grace({"trace", "synth", "--model", at("model.json"), "--tokens", "3000000", "--plain", "--no-weights",
                       "-o", at("big")})
                .exit_code,
            0);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    SCOPED_TRACE(strsignal(sig));
    const std::string out = at("sig-" + std::to_string(sig)), err = at("sig.err");
    fs::create_directories(out);
    Child c = spawn(
        {"compare", "--model", at("model.json"), "--trace", at("big"), "--topology", "2x2", "-o", out + "/c"}, err);
    // Signal once the rows are under way (a progress line is out).
    bool working = false;
    for (int i = 0; i < 60000 && !working; ++i) {
      working = slurp_file(err).find("compare [") != std::string::npos;
      if (!working) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      int st;
      if (::waitpid(c.pid, &st, WNOHANG) == c.pid) {
        c.pid = -1;
        break;
      }
    }
    if (c.pid < 0) GTEST_SKIP() << "compare finished before it could be signalled";
    ASSERT_TRUE(working);
    ::kill(c.pid, sig);
    wait_for(c);
    EXPECT_TRUE(WIFSIGNALED(c.status) && WTERMSIG(c.status) == sig) << "status " << c.status;
    EXPECT_TRUE(listing(out).empty()) << "left: " << listing(out).front();
  }
}

// 10M tokens x 4 layers x top-2 as .npy.gz (a few hundred KB on disk): compare streams it, so
// its memory stays under the bound (docs/reliability.md); before, it held the trace and both of
// its halves (635 MB max RSS on this file).
TEST_F(CompareOutput, TenMillionTokensStayWithinTheMemoryBound) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "sanitizer build: RSS is the sanitizer's (shadow memory, quarantine), not grace's";
#endif
  const std::string d = at("ten/");
  write_big_trace(d);
  write_text(at("tiny4.json"),
             R"({"name": "tiny4", "moe_layers": 4, "experts": 8, "top_k": 2, "hidden": 64, "moe_intermediate": 32})");
  constexpr long kBoundKb = 100 * 1024;
  Child c = spawn({"compare", "--model", at("tiny4.json"), "--trace", d, "--topology", "2x2", "-o", at("ten-out")},
                  at("ten.err"));
  wait_for(c);
  EXPECT_TRUE(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0) << slurp_file(at("ten.err"));
  EXPECT_LT(c.max_rss_kb, kBoundKb) << "compare max RSS (KB)";
  const std::string json = slurp_file(at("ten-out/results.json"));
  EXPECT_NE(json.find("\"tokens\": 5000000"), std::string::npos) << json.substr(0, 2000);
}

}  // namespace
}  // namespace grace::reliability
