// Outputs that must not destroy anything (red-team pass, 2026-11-30): an output path that is also
// an input of the command is refused (the input stays whole); a device at the output path is
// written into, never replaced by a regular file; a place no output can be created in fails
// before the work; two outputs of one command on one path; a placement too wide for its own file
// format; validate --json; the commands a user mistypes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "reliability/cli_run.h"
#include "reliability/fixtures.h"

namespace grace::reliability {
namespace {

class OutputGuard : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("grace-outguard-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    write_fixtures(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string at(const std::string& rel) const { return dir_ + "/" + rel; }
  std::vector<std::string> plan_args() const {
    return {"plan", "--model", at("model.json"), "--topology", "2x2", "--trace", at("good"), "--policy", "grace"};
  }
  // A character device node in the test folder (1,3 = null, 1,7 = full); empty when the test
  // may not make one (not root).
  std::string device(const std::string& name, unsigned minor) const {
    const std::string path = at(name);
    if (::mknod(path.c_str(), S_IFCHR | 0666, makedev(1, minor)) != 0) return "";
    return path;
  }
  static bool is_char_device(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
  }
  std::string dir_;
};

TEST_F(OutputGuard, AnOutputOverAnInputIsRefusedAndTheInputStays) {
  const std::string ids = at("good/topk_ids.npy");
  const std::string before = slurp_file(ids);
  auto args = plan_args();
  args.insert(args.end(), {"-o", ids});
  EXPECT_USER_ERROR(run_grace(args), "also an input of this command", "topk_ids.npy");
  EXPECT_EQ(slurp_file(ids), before);

  const std::string placement = at("placement.json");
  const std::string p_before = slurp_file(placement);
  EXPECT_USER_ERROR(run_grace({"export", "--placement", placement, "--model", at("model.json"), "--format", "vllm",
                               "-o", placement}),
                    "also an input");
  EXPECT_EQ(slurp_file(placement), p_before);
  // Through another name of the same file (a hard link) too.
  fs::create_hard_link(placement, at("same.json"));
  EXPECT_USER_ERROR(run_grace({"export", "--placement", placement, "--model", at("model.json"), "--format", "vllm",
                               "-o", at("same.json")}),
                    "also an input", "read as");
  EXPECT_EQ(slurp_file(placement), p_before);
}

TEST_F(OutputGuard, ADeviceIsWrittenIntoNotReplaced) {
  const std::string null_dev = device("null-dev", 3);
  if (null_dev.empty()) GTEST_SKIP() << "mknod needs root";
  auto args = plan_args();
  args.insert(args.end(), {"-o", null_dev});
  const CliResult ok = run_grace(args);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(is_char_device(null_dev));
  // A device that refuses the bytes (ENOSPC) is one error line, and stays a device.
  const std::string full_dev = device("full-dev", 7);
  args.back() = full_dev;
  EXPECT_USER_ERROR(run_grace(args), "full-dev", "No space left");
  EXPECT_TRUE(is_char_device(full_dev));
  // The same through the multi-file writer (plan --policy all) and the single-file one (export).
  args = plan_args();
  args.back() = "all";
  args.insert(args.end(), {"-o", at("all.json"), "--dump-loads", null_dev});
  const CliResult all = run_grace(args);
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_TRUE(is_char_device(null_dev));
  EXPECT_TRUE(fs::exists(at("all.grace.json")));
  const CliResult ex = run_grace(
      {"export", "--placement", at("placement.json"), "--model", at("model.json"), "--format", "vllm", "-o", null_dev});
  EXPECT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_TRUE(is_char_device(null_dev));
}

TEST_F(OutputGuard, APlaceNoOutputCanBeMadeInFailsBeforeTheWork) {
  // /proc takes no new entries, even from root.
  const CliResult r = run_grace({"compare", "--model", at("model.json"), "--topology", "2x2", "--trace", at("good"),
                                 "-o", "/proc/grace-no-such-output"});
  EXPECT_USER_ERROR(r, "cannot create output", "/proc/grace-no-such-output");
  EXPECT_EQ(r.err.find("compare ["), std::string::npos) << "rows ran before the check: " << r.err;
  auto args = plan_args();
  args.insert(args.end(), {"-o", "/proc/grace-no-such-output.json"});
  EXPECT_USER_ERROR(run_grace(args), "cannot create output");
}

TEST_F(OutputGuard, TwoOutputsOnOnePathAreNamed) {
  auto args = plan_args();
  args.insert(args.end(), {"-o", at("x.json"), "--dump-loads", at("x.json")});
  EXPECT_USER_ERROR(run_grace(args), "--dump-loads", "a placement this command writes");
  EXPECT_FALSE(fs::exists(at("x.json")));
}

TEST_F(OutputGuard, APlanTooWideForItsFileIsRefused) {
  auto args = plan_args();
  args.insert(args.end(), {"--redundant", "300000", "-o", at("wide.json")});
  EXPECT_USER_ERROR(run_grace(args), "slots per GPU", "65536");
  EXPECT_FALSE(fs::exists(at("wide.json")));
}

TEST_F(OutputGuard, ValidateJsonAndItsOptions) {
  const CliResult r =
      run_grace({"validate", "--placement", at("placement.json"), "--model", at("model.json"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("valid"), true);
  EXPECT_EQ(j.at("layers"), 2);
  EXPECT_EQ(j.at("experts"), 8);
  EXPECT_EQ(j.at("hash").get<std::string>().size(), 16u);
  EXPECT_USER_ERROR(run_grace({"validate", "--placement", at("placement.json"), "--model", at("model.json"),
                               "--ep-size", "4"}),
                    "only with --for sglang");
  EXPECT_USER_ERROR(run_grace({"validate", "--for", "sglang", at("x.json"), "--placement", at("placement.json"),
                               "--model", at("model.json"), "--ep-size", "4"}),
                    "--placement is not used");
  EXPECT_USER_ERROR(
      run_grace({"validate", "--for", "sglang", at("x.json"), "--model", at("model.json"), "--ep-size", "0"}),
      "--ep-size 0 must be >= 1");
}

TEST_F(OutputGuard, ANumberTooLargeForItsOptionNamesTheOption) {
  EXPECT_USER_ERROR(run_grace({"trace", "synth", "--model", at("model.json"), "--topics", "4294967296", "-o",
                               at("t")}),
                    "--topics", "'4294967296' is out of range");
}

TEST_F(OutputGuard, JsonErrorsOfServingFilesCarryNoLibraryPrefix) {
  write_text(at("trunc.json"), R"({"physical_to_logical_map": [[0, 1)");
  const CliResult r =
      run_grace({"validate", "--for", "sglang", at("trunc.json"), "--model", at("model.json"), "--ep-size", "4"});
  EXPECT_USER_ERROR(r, "not valid JSON");
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
  write_text(at("dup.json"), R"({"physical_to_logical_map": [[0]], "physical_to_logical_map": [[1]]})");
  EXPECT_USER_ERROR(
      run_grace({"validate", "--for", "sglang", at("dup.json"), "--model", at("model.json"), "--ep-size", "4"}),
      "physical_to_logical_map");
}

TEST_F(OutputGuard, ABinaryFileGivenAsJsonGetsPrintableText) {
  // nlohmann quotes the last bytes it read; a binary file's are not UTF-8 (a Python caller got an
  // empty ValueError from them, the terminal got raw bytes).
  write_text(at("binary.json"), std::string("\x93NUMPY\x01\x00garbage", 16));
  const CliResult r = run_grace({"validate", "--placement", at("binary.json"), "--model", at("model.json")});
  EXPECT_USER_ERROR(r, "not valid JSON", "\\x93");
  for (unsigned char c : r.err) EXPECT_LT(c, 0x80) << r.err;
}

TEST_F(OutputGuard, AGroupedGateThatCannotFillTopKIsAModelError) {
  // 32 groups of 2 experts, the best 1 group: 2 experts for a top-6 gate (before: an internal
  // check failed inside `grace run --routing gate`, rank by rank).
  write_text(at("grouped.json"),
             R"({"name": "g", "moe_layers": 2, "experts": 64, "top_k": 6, "hidden": 64, "moe_intermediate": 32,)"
             R"( "n_group": 32, "topk_group": 1})");
  EXPECT_USER_ERROR(run_grace({"trace", "synth", "--model", at("grouped.json"), "--tokens", "16", "-o", at("t")}),
                    "top_k = 6 cannot be picked from topk_group = 1 of n_group = 32 groups of 2 experts");
  EXPECT_FALSE(fs::exists(at("t")));
}

}  // namespace
}  // namespace grace::reliability
