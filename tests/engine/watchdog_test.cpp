// Fault handling without MPI: the watchdog fires (one line, then the abort callback) only when
// beats stop for the timeout, and the start-up hashes change with what must agree across ranks.
#include "engine/watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "engine/test_inputs.h"
#include "grace/engine/engine.h"
#include "grace/engine/weights.h"
#include "grace/router.h"
#include "grace/topology.h"

namespace grace::engine {
namespace {

using namespace std::chrono_literals;

TEST(WatchdogDeathTest, AbortsWithOneLineWhenNoProgress) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Watchdog wd(0.2, 3, [] { std::_Exit(7); });
        wd.beat("dispatch", 2, 5);
        std::this_thread::sleep_for(5s);
        std::_Exit(0);  // not reached when the watchdog works
      },
      ::testing::ExitedWithCode(7), "rank 3: no progress for [0-9]+ s in dispatch \\(layer 2, batch 5\\); aborting");
}

// Before the first batch (loading, the start-up agreement) the line names the phase only.
TEST(WatchdogDeathTest, BeforeTheFirstBatchNamesThePhaseOnly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Watchdog wd(0.2, 1, [] { std::_Exit(7); });
        wd.beat("agreeing on the loaded weights");
        std::this_thread::sleep_for(5s);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(7), "rank 1: no progress for [0-9]+ s in agreeing on the loaded weights; aborting");
}

TEST(Watchdog, QuietWhileBeatingAndWhenOff) {
  // Firing would end this process (the watchdog _Exits after the callback): the test fails then.
  std::atomic<int> fired{0};
  {
    Watchdog wd(0.3, 0, [&fired] { ++fired; });
    for (int i = 0; i < 10; ++i) {  // 1 s of beats every 0.1 s: never 0.3 s idle
      wd.beat("compute", i, 0);
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(wd.enabled());
  }
  Watchdog off(0, 0, [&fired] { ++fired; });
  EXPECT_FALSE(off.enabled());
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fired, 0);
}

TEST(StartupHash, ChangesWithPlacementAndConfig) {
  ModelSpec model = testing::make_model(2, 6, 2, 16, 8);
  Topology topo = parse_topology("2x1");
  Trace trace = testing::make_trace(2, 6, 2, 50, 20, 9);
  Placement a = testing::contiguous_placement(model, 2, 1), b = testing::eplb_like_placement(model, 2, 1);
  auto ra = make_router("tar", a, topo, 0), rb = make_router("primary", a, topo, 0);
  auto w = make_weight_source("random:1", 16, 8, 0);
  EngineOptions opt;
  EngineInputs in{&trace, &a, &topo, model, ra.get(), w.get()};
  const ConfigHashes base = engine_config_hashes(in, opt);
  EXPECT_EQ(base.placement, engine_config_hashes(in, opt).placement);
  EXPECT_EQ(base.config, engine_config_hashes(in, opt).config);

  EngineInputs other_pl = in;
  other_pl.placement = &b;
  EXPECT_NE(engine_config_hashes(other_pl, opt).placement, base.placement);
  EXPECT_EQ(engine_config_hashes(other_pl, opt).config, base.config);

  EngineInputs other_router = in;
  other_router.router = rb.get();
  EXPECT_NE(engine_config_hashes(other_router, opt).config, base.config);
  EngineOptions flat = opt;
  flat.comm = CommScheme::kFlat;
  EXPECT_NE(engine_config_hashes(in, flat).config, base.config);
  EngineOptions batch = opt;
  batch.batch_tokens = 128;
  EXPECT_NE(engine_config_hashes(in, batch).config, base.config);
  EngineInputs other_dims = in;
  other_dims.model.hidden = 32;
  EXPECT_NE(engine_config_hashes(other_dims, opt).config, base.config);
}

}  // namespace
}  // namespace grace::engine
