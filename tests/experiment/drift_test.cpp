// `grace drift`'s run (grace/drift_run.h): the stream read one window at a time gives what the
// windows cut from the whole trace in memory give, the last short part is dropped, and a bad id
// late in the stream is an input error.
#include <gtest/gtest.h>

#include <memory>

#include "grace/drift_run.h"
#include "grace/error.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/replan.h"
#include "grace/synth.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

struct Stream {
  ModelSpec model = load_model("deepseek-v2-lite");
  Topology topo = parse_topology("2x4");
  std::shared_ptr<Trace> stream;
  Placement p;
};

// A stream whose traffic shifts (two synthetic traces of different seeds, one after the other),
// and a placement planned on a third.
Stream make_stream(int64_t tokens_each) {
  Stream s;
  SynthOptions a;
  a.tokens = tokens_each;
  a.mean_seq_len = 100;
  a.with_weights = false;
  a.seed = 3;
  Trace first = synthesize_trace(s.model, a);
  a.seed = 4;
  const Trace second = synthesize_trace(s.model, a);
  const int64_t n = first.num_tokens();
  first.ids.insert(first.ids.end(), second.ids.begin(), second.ids.end());
  first.seq_offsets.pop_back();
  for (int64_t o : second.seq_offsets) first.seq_offsets.push_back(n + o);
  s.stream = std::make_shared<Trace>(std::move(first));
  a.seed = 5;
  s.p = make_planner("grace")->plan({build_profile(synthesize_trace(s.model, a)), s.model, s.topo, {}});
  return s;
}

void expect_same_cost(const WindowCost& a, const WindowCost& b) {
  EXPECT_DOUBLE_EQ(a.inter_bytes_per_token, b.inter_bytes_per_token);
  EXPECT_DOUBLE_EQ(a.intra_bytes_per_token, b.intra_bytes_per_token);
  EXPECT_DOUBLE_EQ(a.load_max_mean, b.load_max_mean);
  EXPECT_EQ(a.tokens, b.tokens);
}

TEST(Drift, StreamedWindowsAreTheWindowsOfTheWholeTrace) {
  const Stream s = make_stream(2500);  // 5,000 tokens: windows of 1,200 -> 4 windows, 200 tokens dropped
  DriftOptions o;
  o.window = 1200;
  o.batch_tokens = 512;
  o.seq_tokens = 48;
  o.max_moves = 30;
  TraceReader reader(s.stream);
  int64_t calls = 0;
  const DriftResult r =
      run_drift(reader, s.p, s.topo, s.model, o, {"static", "grace:2", "replan"}, [&](int64_t done, int64_t total) {
        EXPECT_EQ(done, ++calls);
        EXPECT_EQ(total, 4);
      });
  EXPECT_EQ(calls, 4);
  ASSERT_EQ(r.windows.size(), 4u);
  ASSERT_EQ(r.strategies.size(), 3u);
  Placement prev;
  for (int64_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    // The window cut from the whole trace, as drift did before it streamed.
    const Trace w = window_trace(*s.stream, i * o.window, (i + 1) * o.window, o.seq_tokens);
    const DriftWindow& d = r.windows[size_t(i)];
    EXPECT_EQ(d.first_token, i * o.window);
    expect_same_cost(d.current, replay(w, s.p, s.topo, s.model, o));
    EXPECT_EQ(d.has_replan, i > 0);
    if (i > 0) expect_same_cost(d.replanned, replay(w, prev, s.topo, s.model, o));
    ReplanOptions ro;
    ro.max_moves = o.max_moves;
    ro.seed = o.seed;
    prev = replan(s.p, build_profile(w), s.model, s.topo, ro).placement;
    // static never moves: each window is P's replay.
    expect_same_cost(r.strategies[0].windows[size_t(i)], d.current);
    EXPECT_EQ(r.strategies[0].moves[size_t(i)], 0);
  }
  // grace:2 re-plans after windows 2 and 4 only; the last window is never planned after.
  EXPECT_EQ(r.strategies[1].replans, 1);
  EXPECT_GT(r.strategies[1].moves[1], 0);
  EXPECT_EQ(r.strategies[1].moves[3], 0);
  EXPECT_EQ(r.strategies[2].moves[3], 0);
}

TEST(Drift, AStreamShorterThanAWindowIsOneWindow) {
  EXPECT_EQ(drift_window_count(1000, 4096), 1);
  EXPECT_EQ(drift_window_count(8191, 4096), 1);
  EXPECT_EQ(drift_window_count(8192, 4096), 2);
  EXPECT_EQ(drift_window_count(0, 4096), 0);
  EXPECT_THROW(drift_window_count(10, 0), InputError);
  const Stream s = make_stream(400);
  DriftOptions o;
  o.window = 5000;
  TraceReader reader(s.stream);
  const DriftResult r = run_drift(reader, s.p, s.topo, s.model, o, {});
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].current.tokens, s.stream->num_tokens());
  EXPECT_FALSE(r.windows[0].has_replan);
}

TEST(Drift, ABadIdLateInTheStreamIsAnInputError) {
  Stream s = make_stream(1500);
  s.stream->ids[s.stream->ids.size() - 3] = expert_t(s.model.experts);  // in the last window
  DriftOptions o;
  o.window = 1000;
  TraceReader reader(s.stream);
  EXPECT_THROW(run_drift(reader, s.p, s.topo, s.model, o, {"static"}), InputError);
}

TEST(Drift, StrategyNames) {
  EXPECT_EQ(split_strategies({"static,grace:2", "replan"}), (std::vector<std::string>{"static", "grace:2", "replan"}));
  EXPECT_THROW(split_strategies({"static,"}), InputError);
  EXPECT_EQ(strategy_period("eplb:3"), 3);
  EXPECT_EQ(strategy_period("replan"), 0);
  EXPECT_THROW(strategy_period("grace:0"), InputError);
  EXPECT_THROW(check_strategies({"static", "static"}), InputError);
  EXPECT_DOUBLE_EQ(replans_per_window({"static", "replan", "eplb:4", "grace:2"}), 1 + 1 + 0.25 + 0.5);
}

}  // namespace
}  // namespace grace
