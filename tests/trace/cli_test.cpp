// `grace trace` end to end: synth writes a trace that stats reads back; bad input exits 2
// with one error line naming the file and writes nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "fixture.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

struct CliRun {
  int code;
  std::string out;  // stdout and stderr
};

CliRun run_cli(const std::string& args) {
  std::string cmd = std::string(GRACE_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  CliRun r{-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(TraceCli, SynthThenStatsJson) {
  testing::TempDir d;
  CliRun s = run_cli("trace synth --model gpt-oss-20b --tokens 3000 --seed 3 -o " + d / "t");
  ASSERT_EQ(s.code, 0) << s.out;
  Trace tr = read_trace({d / "t"}, 32, true);
  EXPECT_EQ(tr.num_tokens(), 3000);
  EXPECT_EQ(tr.num_layers, 24);
  EXPECT_TRUE(tr.has_weights());
  CliRun st = run_cli("trace stats --json --experts 32 " + d / "t");
  ASSERT_EQ(st.code, 0) << st.out;
  EXPECT_NE(st.out.find("\"tokens\":3000"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"num_layers\":24"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("\"top_k\":4"), std::string::npos) << st.out;
  // The same trace given as a synthetic spec yields the same statistics.
  CliRun spec = run_cli("trace stats --json --experts 32 synthetic:gpt-oss-20b:3000:3");
  ASSERT_EQ(spec.code, 0) << spec.out;
  EXPECT_EQ(spec.out, st.out);
}

TEST(TraceCli, BadFileExitsTwoNamingTheFile) {
  testing::TempDir d;
  testing::write_bytes(d / "topk_ids.npy", "not numpy at all");
  CliRun r = run_cli("trace stats " + d / "topk_ids.npy");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(d / "topk_ids.npy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wrong magic"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST(TraceCli, BadSynthArgumentsWriteNothing) {
  testing::TempDir d;
  for (const char* args :
       {"--model nope --tokens 10", "--model gpt-oss-20b --tokens 0", "--model gpt-oss-20b --tokens 10 --seq-len 0"}) {
    CliRun r = run_cli(std::string("trace synth ") + args + " -o " + d / "out");
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_FALSE(std::filesystem::exists(d / "out")) << args;
  }
}

}  // namespace
}  // namespace grace
