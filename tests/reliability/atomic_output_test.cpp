// Output files survive a write that fails part-way. Each case first runs a command without a
// limit (the new content), plants old files in a fresh output place, then runs the same command
// under a file size limit (`ulimit -f`, SIGXFSZ ignored: writes fail with EFBIG, as on a full
// disk). The command must exit 2 with one "grace: error:" line naming the output (after any
// progress lines), and every output file must hold
// either its old bytes or the complete new ones (compare writes several files), with no
// temporary left beside them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "reliability/fixtures.h"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every regular file under `root`, by relative path.
std::map<std::string, std::string> files_under(const fs::path& root) {
  std::map<std::string, std::string> m;
  if (!fs::exists(root)) return m;
  if (fs::is_regular_file(root)) return {{"", slurp(root)}};
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) m[fs::relative(e.path(), root).string()] = slurp(e.path());
  return m;
}

struct Result {
  int code = -1;
  std::string err;
};

// Runs `grace ARGS` (already quoted) with an optional file size limit in KiB (0: none).
Result run(const std::string& args, const fs::path& dir, int limit_kib) {
  const std::string err = (dir / "stderr").string();
  std::string inner = "'" + std::string(GRACE_CLI_PATH) + "' " + args;
  std::string cmd = limit_kib > 0
                        ? "bash -c \"trap '' XFSZ; ulimit -f " + std::to_string(limit_kib) + "; exec " + inner + "\""
                        : inner;
  cmd += " >/dev/null 2>'" + err + "' </dev/null";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(err)};
}

class AtomicOutput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("grace-atomic-out-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    grace::reliability::write_fixtures(dir_.string());
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // args: the command with {out} standing for the output path (a file or a folder).
  void check(const std::string& name, const std::string& args, int limit_kib) {
    SCOPED_TRACE(name);
    auto with = [&](const fs::path& out) {
      std::string a = args;
      for (size_t at; (at = a.find("{out}")) != std::string::npos;) a.replace(at, 5, out.string());
      for (size_t at; (at = a.find("{fx}")) != std::string::npos;) a.replace(at, 4, dir_.string());
      return a;
    };
    // 1. The new content, without a limit.
    const fs::path fresh = dir_ / (name + "-fresh");
    fs::create_directories(fresh);
    Result ok = run(with(fresh / "o"), dir_, 0);
    ASSERT_EQ(ok.code, 0) << ok.err;
    const auto fresh_files = files_under(fresh / "o");
    ASSERT_FALSE(fresh_files.empty());
    size_t biggest = 0;
    for (const auto& [p, c] : fresh_files) biggest = std::max(biggest, c.size());
    ASSERT_GT(biggest, size_t(limit_kib) * 1024) << "the limit must cut a file part-way";
    // 2. Old files in place: the same names, other bytes.
    const fs::path target = dir_ / (name + "-target");
    const fs::path out = target / "o";
    std::map<std::string, std::string> old;
    for (const auto& [p, c] : fresh_files) {
      const fs::path f = p.empty() ? out : out / p;
      fs::create_directories(f.parent_path());
      old[p] = "old bytes of " + p + "\n";
      std::ofstream(f, std::ios::binary) << old[p];
    }
    // 3. The same command under the limit.
    Result r = run(with(out), target, limit_kib);
    EXPECT_EQ(r.code, 2) << r.err;
    // Progress lines may come first (compare); the error is one line, the last.
    const size_t at = r.err.find("grace: error: ");
    ASSERT_NE(at, std::string::npos) << r.err;
    EXPECT_TRUE(at == 0 || r.err[at - 1] == '\n') << r.err;
    EXPECT_EQ(r.err.find('\n', at), r.err.size() - 1) << "one line, the last: " << r.err;
    EXPECT_NE(r.err.find(out.string()), std::string::npos) << "the error names the output: " << r.err;
    const auto after = files_under(out);
    for (const auto& [p, c] : after) {
      ASSERT_TRUE(old.count(p)) << "left behind: " << p;
      EXPECT_TRUE(c == old[p] || c == fresh_files.at(p))
          << p << " is neither the old nor the complete new file (" << c.size() << " bytes)";
    }
    EXPECT_EQ(after.size(), old.size()) << "an old file was removed";
    for (const auto& e : fs::directory_iterator(target))
      EXPECT_TRUE(e.path().filename() == "o" || e.path().filename() == "stderr") << "left: " << e.path();
  }

  static fs::path dir_;
};
fs::path AtomicOutput::dir_;

TEST_F(AtomicOutput, Plan) {
  check("plan", "plan --model deepseek-v2-lite --topology 2x4 --policy eplb -o '{out}'", 4);
}

TEST_F(AtomicOutput, Export) {
  const std::string plan =
      "plan --model deepseek-v2-lite --topology 2x4 "
      "--policy eplb -o '" +
      (dir_ / "export-src.json").string() + "'";
  ASSERT_EQ(run(plan, dir_, 0).code, 0);
  // (vllm: sglang output names must end in .json, and the helper writes to 'o')
  check("export", "export --placement '{fx}/export-src.json' --format vllm -o '{out}'", 4);
}

TEST_F(AtomicOutput, CompareMidWay) {
  // report.md is small, report.html and results.json are not: some files are replaced, the
  // rest keep their old bytes, none is cut.
  check("compare", "compare --trace synthetic:deepseek-v2-lite:1500 --model deepseek-v2-lite --topology 2x2 -o '{out}'",
        8);
}

TEST_F(AtomicOutput, TraceSynth) {
  check("synth", "trace synth --model deepseek-v2-lite --tokens 3000 --seed 3 -o '{out}'", 64);
}

TEST_F(AtomicOutput, TraceConvert) { check("convert", "trace convert synthetic:gpt-oss-20b:3000 -o '{out}'", 32); }

}  // namespace
