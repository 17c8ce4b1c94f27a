// Resource-cost limits (issue 12, class 1): inputs whose field values are each in range but
// whose products would need more memory or time than is reasonable fail at once with one line
// naming the product and the limit, instead of std::bad_alloc or minutes of work.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "reliability/cli_run.h"
#include "reliability/fixtures.h"

namespace grace::reliability {
namespace {

class CostLimits : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("grace-cost-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    write_fixtures(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string at(const std::string& rel) { return dir_ + "/" + rel; }
  static std::string dir_;
};
std::string CostLimits::dir_;

// Fast enough for a loaded 2-core machine and ASan, far below what the unbounded runs took.
constexpr double kFastSeconds = 30;

double seconds_of(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST_F(CostLimits, SynthTokensAndTopics) {
  CliResult r;
  double s = seconds_of([&] {
    r = run_grace({"trace", "synth", "--model", "deepseek-v2-lite", "--tokens", "99999999999", "-o", at("t1")}, "", 60);
  });
  EXPECT_USER_ERROR(r, "tokens x layers x top-k", "99999999999", "limit");
  EXPECT_LT(s, kFastSeconds);
  s = seconds_of([&] {
    r = run_grace(
        {"trace", "synth", "--model", "deepseek-v2-lite", "--tokens", "100", "--topics", "2000000000", "-o", at("t2")},
        "", 60);
  });
  EXPECT_USER_ERROR(r, "topics", "2000000000", "limit");
  EXPECT_LT(s, kFastSeconds);
  EXPECT_FALSE(fs::exists(at("t1")));
  EXPECT_FALSE(fs::exists(at("t2")));
  // The same limit holds for a synthetic trace argument.
  EXPECT_USER_ERROR(run_grace({"trace", "stats", "synthetic:deepseek-v2-lite:99999999999"}, "", 60), "tokens", "limit");
}

TEST_F(CostLimits, PlacementGpusTimesSlots) {
  // 228 bytes: 65536 x 1 GPUs, 65536 slots per GPU, 1 layer x 1 expert.
  write_text(at("wide.json"),
             R"({"format": "grace-placement", "version": 1, "model": "m", "policy": "p", "seed": 0,
 "topology": {"nodes": 65536, "gpus_per_node": 1, "slots_per_gpu": 65536},
 "num_layers": 1, "num_experts": 1, "layers": [{"experts": [{"instances": [0]}]}]})");
  for (const char* fmt : {"sglang", "vllm"}) {
    CliResult r;
    const double s = seconds_of([&] {
      r = run_grace({"export", "--placement", at("wide.json"), "--format", fmt, "-o", at("x.json")}, "", 60);
    });
    EXPECT_USER_ERROR(r, "wide.json", "GPUs", "slots per GPU", "limit");
    EXPECT_LT(s, kFastSeconds);
  }
  EXPECT_USER_ERROR(run_grace({"validate", "--placement", at("wide.json"), "--model", at("model.json")}, "", 60),
                    "wide.json", "limit");
  EXPECT_FALSE(fs::exists(at("x.json")));
}

TEST_F(CostLimits, ExportSpareSlotFill) {
  // 64x16 GPUs x 4096 slots, 4096 experts, one instance each: 4.2M spare slots, each filled by a
  // scan of 4096 experts (1.7e10 steps: minutes before the check).
  std::string j = R"({"format": "grace-placement", "version": 1, "model": "m", "policy": "p", "seed": 0,
 "topology": {"nodes": 64, "gpus_per_node": 16, "slots_per_gpu": 4096},
 "num_layers": 1, "num_experts": 4096, "layers": [{"experts": [)";
  for (int e = 0; e < 4096; ++e)
    j += (e ? ", " : "") + std::string("{\"instances\": [") + std::to_string(e % 1024) + "]}";
  j += "]}]}";
  write_text(at("sparse.json"), j);
  CliResult r;
  const double s = seconds_of([&] {
    r = run_grace({"export", "--placement", at("sparse.json"), "--format", "vllm", "-o", at("y.json")}, "", 120);
  });
  EXPECT_USER_ERROR(r, "sparse.json", "spare slots", "experts", "limit");
  EXPECT_LT(s, kFastSeconds);
  EXPECT_FALSE(fs::exists(at("y.json")));
}

TEST_F(CostLimits, DriftWindowMustFitMemoryNotTheStream) {
  // drift holds one window at a time: 300k tokens x 2 layers x 2 ids x 2 bytes = 2.4 MB of stream
  // under a 1 MB limit is fine in windows of 50,000 tokens (0.8 MB counted: the window and its
  // copy cut into pieces, 4 bytes an id), and a window of 150,000 tokens (2.4 MB) is refused. replan streams its trace into
  // a profile, so it runs on the same stream under the same limit.
  ASSERT_EQ(
      run_grace({"trace", "synth", "--model", at("model.json"), "--tokens", "300000", "-o", at("stream")}).exit_code,
      0);
  const std::vector<std::string> drift{"drift",          "--placement", at("placement.json"), "--model",
                                       at("model.json"), "--trace",     at("stream")};
  auto with = [&](std::vector<std::string> args, std::initializer_list<std::string> more) {
    args.insert(args.end(), more);
    return args;
  };
  EXPECT_USER_ERROR(run_grace(with(drift, {"--window", "150000"}), "", 60, "GRACE_MEMORY_LIMIT_MB=1"),
                    "--window 150000", "tokens", "150000", "limit");
  CliResult ok = run_grace(with(drift, {"--window", "50000", "--json"}), "", 120, "GRACE_MEMORY_LIMIT_MB=1");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("\"first_token\":250000"), std::string::npos) << ok.out;  // the sixth, last window
  CliResult replan = run_grace({"replan", "--placement", at("placement.json"), "--model", at("model.json"), "--trace",
                                at("stream"), "-o", at("r.json")},
                               "", 120, "GRACE_MEMORY_LIMIT_MB=1");
  EXPECT_EQ(replan.exit_code, 0) << replan.err;
  EXPECT_TRUE(fs::exists(at("r.json")));
}

TEST_F(CostLimits, PlanOnAHugeTopology) {
  ASSERT_EQ(run_grace({"trace", "synth", "--model", "deepseek-v2-lite", "--tokens", "3000", "-o", at("t3k")}).exit_code,
            0);
  CliResult r;
  const double s = seconds_of([&] {
    r = run_grace(
        {"plan", "--model", "deepseek-v2-lite", "--trace", at("t3k"), "--topology", "1024x64", "-o", at("p.json")}, "",
        120);
  });
  EXPECT_USER_ERROR(r, "GPUs", "limit");
  EXPECT_LT(s, kFastSeconds);
  EXPECT_FALSE(fs::exists(at("p.json")));
}

TEST_F(CostLimits, SimulateRecords) {
  // 200,000 batches of one token x 2 layers x 4 GPUs of per-GPU records: ~240 MB, over a 100 MB
  // limit (the synthetic trace itself, 5.6 MB, is under it).
  const CliResult r =
      run_grace({"simulate", "--model", at("model.json"), "--trace", "synthetic:" + at("model.json") + ":200000",
                 "--placement", at("placement.json"), "--batch-tokens", "1"},
                "", 60, "GRACE_MEMORY_LIMIT_MB=100");
  EXPECT_USER_ERROR(r, "simulate", "batches x layers x GPUs", "200000", "limit");
}

TEST_F(CostLimits, TraceStatsPairTables) {
  // 65535 experts: the per-layer expert-pair tables would be 2 x 65535^2 x 8 bytes per layer.
  write_raw_npy(at("wideids/topk_ids.npy"), "<u2", {2, 1, 2}, std::string("\xfe\xff\x00\x00\x01\x00\x02\x00", 8));
  EXPECT_USER_ERROR(run_grace({"trace", "stats", at("wideids")}, "", 60), "experts", "limit");
}

}  // namespace
}  // namespace grace::reliability
