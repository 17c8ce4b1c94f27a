// The bad-input suite: each row runs one `grace` subcommand with one bad input and checks the
// CLI contract for user errors: exit code 2, exactly one line on stderr ("grace: error: ..."),
// that line names the file or flag and the problem, nothing on stdout (commands without -o,
// such as evaluate and simulate, print their report there), and no output file (nor a temp
// file) is left in the -o folder. The *_late rows fail on the last token of the trace, after
// earlier batches were processed. Fixtures are written by fixtures.h into a fresh temp directory.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "reliability/fixtures.h"

namespace fs = std::filesystem;

namespace {

struct Row {
  const char* name;
  std::vector<std::string> args;    // "@" at the start of an argument is the fixture directory
  std::vector<std::string> expect;  // substrings the one stderr line must contain ("@" as above)
};

// gtest prints a failing parameter with this (instead of its bytes).
void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

// {out} in an argument is the row's (empty, existing) output folder.
const std::vector<Row>& rows() {
  static const std::vector<Row> kRows = {
      // Traces: empty, truncated, not .npy, wrong dtype or layout, ids out of range, huge shapes,
      // bad offsets, NaN / negative gate weights.
      {"stats_empty_file", {"trace", "stats", "@bad/empty"}, {"@bad/empty/topk_ids.npy", "magic"}},
      {"stats_truncated", {"trace", "stats", "@bad/truncated"}, {"@bad/truncated/topk_ids.npy", "truncated"}},
      {"stats_not_npy", {"trace", "stats", "@bad/badmagic"}, {"badmagic/topk_ids.npy", "not a NumPy"}},
      {"stats_float_ids", {"trace", "stats", "@bad/f4ids"}, {"f4ids/topk_ids.npy", "integer", "<f4"}},
      {"stats_big_endian", {"trace", "stats", "@bad/bigendian"}, {"bigendian/topk_ids.npy", "dtype", ">u2"}},
      {"stats_2d_ids", {"trace", "stats", "@bad/shape2d"}, {"shape2d/topk_ids.npy", "shape"}},
      {"stats_id_out_of_range",
       {"trace", "stats", "--experts", "8", "@bad/oor"},
       {"oor/topk_ids.npy", "expert id 9 >= 8"}},
      {"stats_huge_token_count", {"trace", "stats", "@bad/hugetokens"}, {"hugetokens/topk_ids.npy", "truncated"}},
      {"stats_huge_dims", {"trace", "stats", "@bad/hugedims"}, {"hugedims/topk_ids.npy", "too many elements"}},
      {"stats_offsets_not_monotone",
       {"trace", "stats", "@bad/badoffsets"},
       {"badoffsets/seq_offsets.npy", "strictly increasing"}},
      {"stats_huge_offsets", {"trace", "stats", "@bad/hugeoffsets"}, {"hugeoffsets/seq_offsets.npy", "truncated"}},
      {"stats_missing_trace", {"trace", "stats", "@bad/nothing-here"}, {"@bad/nothing-here", "no such file"}},
      {"stats_no_trace", {"trace", "stats"}, {"TRACE is required"}},
      {"convert_nan_weights",
       {"trace", "convert", "@bad/nanweights", "-o", "{out}/t"},
       {"nanweights/topk_weights_f32.npy", "gate weight nan"}},
      {"convert_negative_weights",
       {"trace", "convert", "@bad/negweights", "-o", "{out}/t"},
       {"negweights/topk_weights_f32.npy", "gate weight -0.25"}},
      {"convert_truncated",
       {"trace", "convert", "@bad/truncated", "-o", "{out}/t"},
       {"truncated/topk_ids.npy", "truncated"}},
      {"synth_zero_tokens",
       {"trace", "synth", "--model", "@model.json", "--tokens", "0", "-o", "{out}/t"},
       {"--tokens", "positive"}},
      {"synth_huge_model",
       {"trace", "synth", "--model", "@bad/model_huge.json", "--tokens", "10", "-o", "{out}/t"},
       {"experts = 1000000000", "out of range [1, 65535]"}},
      {"synth_wrapping_model",
       {"trace", "synth", "--model", "@bad/model_wrap.json", "--tokens", "10", "-o", "{out}/t"},
       {"model_wrap.json", "experts", "out of range"}},
      {"synth_zero_experts",
       {"trace", "synth", "--model", "@bad/model_zero.json", "--tokens", "10", "-o", "{out}/t"},
       {"experts = 0", "out of range [1, 65535]"}},
      {"synth_unknown_model",
       {"trace", "synth", "--model", "no-such-model", "--tokens", "10", "-o", "{out}/t"},
       {"unknown model 'no-such-model'"}},

      // plan: names, topologies, models, traces.
      {"plan_unknown_policy",
       {"plan", "--model", "@model.json", "--trace", "@good", "--policy", "nope", "-o", "{out}/p.json"},
       {"nope"}},
      {"plan_unknown_batching",
       {"plan", "--model", "@model.json", "--trace", "@good", "--batching", "nope", "-o", "{out}/p.json"},
       {"batching", "nope", "balanced"}},
      {"plan_zero_batch_tokens",
       {"plan", "--model", "@model.json", "--trace", "@good", "--batch-tokens", "0", "-o", "{out}/p.json"},
       {"--batch-tokens", "must be positive"}},
      {"plan_zero_nodes",
       {"plan", "--model", "@model.json", "--trace", "@good", "--topology", "@bad/topo_zero.json", "-o",
        "{out}/p.json"},
       {"nodes = 0"}},
      {"plan_zero_gpus",
       {"plan", "--model", "@model.json", "--trace", "@good", "--topology", "@bad/topo_zerogpus.json", "-o",
        "{out}/p.json"},
       {"gpus_per_node = 0"}},
      {"plan_zero_gpus_spec",
       {"plan", "--model", "@model.json", "--trace", "@good", "--topology", "2x0", "-o", "{out}/p.json"},
       {"2x0", "gpus_per_node = 0"}},
      {"plan_tiny_memory",
       {"plan", "--model", "@model.json", "--trace", "@good", "--topology", "@bad/topo_tinymem.json", "-o",
        "{out}/p.json"},
       {"memory"}},
      {"plan_self_preset",
       {"plan", "--model", "@model.json", "--trace", "@good", "--topology", "@bad/topo_selfpreset.json", "-o",
        "{out}/p.json"},
       {"topo_selfpreset.json", "preset"}},
      {"plan_preset_not_string",
       {"plan", "--model", "@model.json", "--trace", "@good", "--topology", "@bad/topo_badtype.json", "-o",
        "{out}/p.json"},
       {"topo_badtype.json", "preset"}},
      {"plan_huge_model",
       {"plan", "--model", "@bad/model_huge.json", "--trace", "@good", "-o", "{out}/p.json"},
       {"experts = 1000000000"}},
      {"plan_zero_hidden",
       {"plan", "--model", "@bad/model_nohidden.json", "--trace", "@good", "-o", "{out}/p.json"},
       {"hidden = 0"}},
      {"plan_truncated_trace",
       {"plan", "--model", "@model.json", "--trace", "@bad/truncated", "-o", "{out}/p.json"},
       {"truncated/topk_ids.npy", "truncated"}},
      {"plan_id_out_of_range",
       {"plan", "--model", "@model.json", "--trace", "@bad/oor", "-o", "{out}/p.json"},
       {"oor/topk_ids.npy", "expert id 9 >= 8"}},
      {"plan_wrong_model",
       {"plan", "--model", "deepseek-v2-lite", "--trace", "@good", "-o", "{out}/p.json"},
       {"@good", "2 MoE layers", "26 MoE layers"}},

      // export: placement files and format names.
      {"export_unknown_format",
       {"export", "--placement", "@placement.json", "--format", "nope", "-o", "{out}/x.json"},
       {"nope", "sglang"}},
      {"export_empty_placement",
       {"export", "--placement", "@bad/empty.json", "--format", "sglang", "-o", "{out}/x.json"},
       {"bad/empty.json", "JSON"}},
      {"export_truncated_placement",
       {"export", "--placement", "@bad/truncated.json", "--format", "vllm", "-o", "{out}/x.json"},
       {"bad/truncated.json", "JSON"}},
      {"export_missing_expert",
       {"export", "--placement", "@bad/missing_expert.json", "--format", "sglang", "-o", "{out}/x.json"},
       {"missing_expert.json", "layer 0, expert 2", "non-empty"}},
      {"export_duplicate_instance",
       {"export", "--placement", "@bad/duplicate.json", "--format", "sglang", "-o", "{out}/x.json"},
       {"duplicate.json", "two instances on GPU 0"}},
      {"export_negative_weight",
       {"export", "--placement", "@bad/negweight.json", "--format", "sglang", "-o", "{out}/x.json"},
       {"negweight.json", "must be positive"}},
      {"export_infinite_weight",
       {"export", "--placement", "@bad/infweight.json", "--format", "sglang", "-o", "{out}/x.json"},
       {"infweight.json"}},
      {"export_weights_not_normalised",
       {"export", "--placement", "@bad/weightsum.json", "--format", "vllm", "-o", "{out}/x.json"},
       {"weightsum.json", "sum to 0.75"}},
      {"export_gpu_out_of_range",
       {"export", "--placement", "@bad/gpu_oor.json", "--format", "sglang", "-o", "{out}/x.json"},
       {"gpu_oor.json", "GPU 7"}},
      {"export_huge_experts",
       {"export", "--placement", "@bad/huge_experts.json", "--format", "sglang", "-o", "{out}/x.json"},
       {"huge_experts.json", "num_experts"}},

      // evaluate / simulate: names, placements against the trace and topology.
      {"evaluate_unknown_router",
       {"evaluate", "--model", "@model.json", "--trace", "@good", "--placement", "@placement.json", "--router", "nope"},
       {"--router", "nope"}},
      {"evaluate_unknown_comm",
       {"evaluate", "--model", "@model.json", "--trace", "@good", "--placement", "@placement.json", "--comm", "nope"},
       {"nope", "hierarchical"}},
      {"evaluate_unknown_batching",
       {"evaluate", "--model", "@model.json", "--trace", "@good", "--placement", "@placement.json", "--batching",
        "nope"},
       {"batching", "nope", "balanced"}},
      {"simulate_unknown_batching",
       {"simulate", "--model", "@model.json", "--trace", "@good", "--placement", "@placement.json", "--batching",
        "steps"},
       {"batching", "steps", "trace"}},
      {"compare_unknown_batching",
       {"compare", "--model", "@model.json", "--trace", "@good", "--topology", "2x2", "--batching", "nope", "-o",
        "{out}/c"},
       {"batching", "nope"}},
      {"evaluate_duplicate_instance",
       {"evaluate", "--model", "@model.json", "--trace", "@good", "--placement", "@bad/duplicate.json"},
       {"duplicate.json", "two instances"}},
      {"evaluate_placement_other_model",
       {"evaluate", "--model", "@model.json", "--trace", "@good", "--placement", "@bad/other_experts.json"},
       {"other_experts.json", "experts"}},
      {"evaluate_tiny_memory",
       {"evaluate", "--model", "@model.json", "--trace", "@good", "--placement", "@placement.json", "--topology",
        "@bad/topo_tinymem.json"},
       {"placement.json", "memory"}},
      {"evaluate_id_out_of_range",
       {"evaluate", "--model", "@model.json", "--trace", "@bad/oor", "--placement", "@placement.json"},
       {"oor/topk_ids.npy", "expert id 9 >= 8"}},
      {"evaluate_zero_batch",
       {"evaluate", "--model", "@model.json", "--trace", "@good", "--placement", "@placement.json", "--batch-tokens",
        "0"},
       {"--batch-tokens"}},
      {"evaluate_bad_id_late",
       {"evaluate", "--model", "@model.json", "--trace", "@bad/oorlate", "--placement", "@placement.json",
        "--batch-tokens", "16", "--json"},
       {"oorlate/topk_ids.npy", "9"}},
      {"simulate_bad_id_late",
       {"simulate", "--model", "@model.json", "--trace", "@bad/oorlate", "--placement", "@placement.json",
        "--batch-tokens", "16"},
       {"oorlate/topk_ids.npy", "9"}},
      {"compare_bad_id_late",
       {"compare", "--model", "@model.json", "--trace", "@bad/oorlate", "--topology", "2x2", "--batch-tokens", "16",
        "-o", "{out}/c"},
       {"oorlate/topk_ids.npy", "9"}},
      {"simulate_unknown_router",
       {"simulate", "--model", "@model.json", "--trace", "@good", "--placement", "@placement.json", "--router", "nope"},
       {"nope"}},
      {"simulate_zero_gpus",
       {"simulate", "--model", "@model.json", "--trace", "@good", "--placement", "@placement.json", "--topology",
        "@bad/topo_zerogpus.json"},
       {"gpus_per_node = 0"}},
      {"simulate_truncated_trace",
       {"simulate", "--model", "@model.json", "--trace", "@bad/truncated", "--placement", "@placement.json"},
       {"truncated/topk_ids.npy", "truncated"}},

      // compare: writes a folder; nothing may appear in it.
      {"compare_truncated_trace",
       {"compare", "--model", "@model.json", "--trace", "@bad/truncated", "-o", "{out}/c"},
       {"truncated/topk_ids.npy", "truncated"}},
      {"compare_zero_gpus",
       {"compare", "--model", "@model.json", "--trace", "@good", "--topology", "2x0", "-o", "{out}/c"},
       {"gpus_per_node = 0"}},
  };
  return kRows;
}

std::string expand(const std::string& s, const std::string& dir, const std::string& out) {
  std::string r = s;
  if (!r.empty() && r[0] == '@') r = dir + "/" + r.substr(1);
  for (size_t at; (at = r.find("{out}")) != std::string::npos;) r.replace(at, 5, out);
  return r;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class BadInput : public testing::TestWithParam<Row> {
 protected:
  static void SetUpTestSuite() {
    dir_ = (fs::temp_directory_path() / ("grace-reliability-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir_);
    grace::reliability::write_fixtures(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string dir_;
};
std::string BadInput::dir_;

TEST_P(BadInput, FailsWithOneLineAndNoOutput) {
  const Row& row = GetParam();
  const std::string out = dir_ + "/out-" + row.name;
  fs::create_directories(out);
  std::string cmd = quote(GRACE_CLI_PATH);
  for (const auto& a : row.args) {
    cmd += ' ';
    cmd += quote(expand(a, dir_, out));
  }
  const std::string so = dir_ + "/" + row.name + ".stdout", se = dir_ + "/" + row.name + ".stderr";
  const auto t0 = std::chrono::steady_clock::now();
  const int status = std::system((cmd + " >" + quote(so) + " 2>" + quote(se) + " </dev/null").c_str());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string err = slurp(se);
  SCOPED_TRACE("command: " + cmd + "\nstderr: " + err);

  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal";
  EXPECT_EQ(WEXITSTATUS(status), 2);
  ASSERT_FALSE(err.empty());
  EXPECT_EQ(err.find('\n'), err.size() - 1) << "expected exactly one line on stderr";
  EXPECT_EQ(err.rfind("grace: error: ", 0), 0u);
  for (const auto& e : row.expect) EXPECT_NE(err.find(expand(e, dir_, out)), std::string::npos) << "missing: " << e;
  // Bad input fails fast: nothing here needs more than a moment, even under ASan.
  EXPECT_LT(secs, 20.0);
  // Nothing half-written on stdout, no output file, no temp file, no half-written folder.
  EXPECT_EQ(slurp(so), "") << "stdout must stay empty when the command fails";
  std::vector<std::string> left;
  for (const auto& e : fs::recursive_directory_iterator(out)) left.push_back(e.path().string());
  EXPECT_TRUE(left.empty()) << "left in the output folder: " << (left.empty() ? "" : left.front());
}

INSTANTIATE_TEST_SUITE_P(Rows, BadInput, testing::ValuesIn(rows()),
                         [](const testing::TestParamInfo<Row>& i) { return std::string(i.param.name); });

}  // namespace
