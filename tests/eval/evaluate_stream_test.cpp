// The streaming evaluator gives the in-memory results (chunks that split batches and
// sequences, several trace files), and the `grace evaluate` CLI end to end.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <random>

#include "grace/evaluate.h"
#include "grace/model.h"
#include "grace/placement_io.h"
#include "grace/trace_io.h"
#include "route/hand_placement.h"

namespace grace {
namespace {

namespace fs = std::filesystem;

Trace random_trace(uint32_t seed, int64_t n, int64_t first_seq_len) {
  std::mt19937 rng(seed);
  Trace t;
  t.num_layers = 2;
  t.top_k = 2;
  t.num_experts = 8;
  for (int64_t i = 0; i < n * 2; ++i) {
    int a = int(rng() % 8), b = int(rng() % 7);
    if (b >= a) ++b;
    t.ids.push_back(expert_t(a));
    t.ids.push_back(expert_t(b));
  }
  t.seq_offsets = {0, std::min(n, first_seq_len)};
  while (t.seq_offsets.back() < n) t.seq_offsets.push_back(std::min<int64_t>(n, t.seq_offsets.back() + 1 + rng() % 90));
  return t;
}

Placement stream_placement() {
  std::vector<std::vector<std::vector<std::pair<int, double>>>> layers(2);
  for (int l = 0; l < 2; ++l)
    for (int e = 0; e < 8; ++e) {
      std::vector<std::pair<int, double>> inst = {{(e + l) % 4, 1.0}};
      if (e % 3 == 0) inst.push_back({(e + l + 2) % 4, 1.0});
      layers[size_t(l)].push_back(inst);
    }
  return testing::hand_placement(2, 2, layers);
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("grace_eval_test_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(EvaluateStream, MatchesInMemoryAcrossFiles) {
  TempDir dir;
  Trace a = random_trace(1, 333, 50), b = random_trace(2, 250, 400);
  write_trace(a, (dir.path / "a").string(), false);
  write_trace(b, (dir.path / "b").string(), false);
  // The in-memory concatenation.
  Trace both = a;
  both.ids.insert(both.ids.end(), b.ids.begin(), b.ids.end());
  for (size_t s = 1; s < b.seq_offsets.size(); ++s) both.seq_offsets.push_back(333 + b.seq_offsets[s]);
  Placement p = stream_placement();
  Topology topo = testing::hand_topology(2, 2);
  ModelSpec model = generic_model(2, 8, 2);
  for (const char* router : {"tar", "load-aware", "round-robin"}) {
    EvalOptions o;
    o.router = router;
    o.batch_tokens = 128;  // 583 tokens: batches straddle the file boundary
    EvalResult mem = evaluate(both, p, topo, model, o);
    TraceReader reader({(dir.path / "a").string(), (dir.path / "b").string()}, 8);
    o.keep_records = false;
    EvalResult st = evaluate(reader, p, topo, model, o);
    EXPECT_EQ(st.num_batches, 5) << router;
    EXPECT_EQ(st.num_batches, mem.num_batches) << router;
    EXPECT_EQ(st.total.tokens, 583 * 2) << router;
    EXPECT_EQ(st.total.inter_copies, mem.total.inter_copies) << router;
    EXPECT_EQ(st.total.intra_copies, mem.total.intra_copies) << router;
    EXPECT_EQ(st.total.pairs_same_gpu, mem.total.pairs_same_gpu) << router;
    EXPECT_DOUBLE_EQ(st.total.load_std_sum, mem.total.load_std_sum) << router;
    EXPECT_EQ(st.total.nic_busiest_copies, mem.total.nic_busiest_copies) << router;
    EXPECT_GT(st.total.nic_busiest_copies, 0) << router;
  }
}

std::string run_cli(const std::string& args, int* rc) {
  std::string cmd = std::string(GRACE_CLI_PATH) + " " + args + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
  *rc = WEXITSTATUS(pclose(f));
  return out;
}

TEST(EvaluateCli, RunsAndRejectsBadFlags) {
  TempDir dir;
  Trace a = random_trace(3, 400, 60);
  write_trace(a, (dir.path / "t").string(), true);
  Placement p = stream_placement();
  p.model = "";
  p.slots_per_gpu = 4;
  save_placement(p, (dir.path / "p.json").string());
  const std::string base =
      "evaluate --trace " + (dir.path / "t").string() + " --placement " + (dir.path / "p.json").string();
  int rc = -1;
  std::string out = run_cli(base + " --model " + (dir.path / "m.json").string(), &rc);
  EXPECT_EQ(rc, 2) << out;  // missing model file
  // A model JSON with the trace's shape.
  {
    FILE* f = fopen((dir.path / "m.json").c_str(), "w");
    fputs(
        "{\"name\":\"tiny\",\"moe_layers\":2,\"experts\":8,\"top_k\":2,\"hidden\":64,"
        "\"moe_intermediate\":32,\"vocab\":100}",
        f);
    fclose(f);
  }
  const std::string ok = base + " --model " + (dir.path / "m.json").string();
  out = run_cli(ok + " --comm flat --batch-tokens 100 --json", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"comm\":\"flat\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"num_batches\":4"), std::string::npos) << out;
  out = run_cli(ok + " --router load-aware", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("total"), std::string::npos) << out;
  out = run_cli(ok + " --router nope", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("nope"), std::string::npos) << out;
  out = run_cli(ok + " --comm ring", &rc);
  EXPECT_EQ(rc, 2) << out;
  out = run_cli(ok + " --topology 1x4", &rc);  // placement is for 2x2
  EXPECT_EQ(rc, 2) << out;
}

}  // namespace
}  // namespace grace
