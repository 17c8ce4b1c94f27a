// The task queue the grace planner runs a layer's steps on (src/plan/task_queue.h): every task
// runs, those pushed while others run included; front tasks go before waiting ones; the first
// exception comes back out of run(); and the grace planner's placement does not depend on the
// thread count.
#include "plan/task_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "grace/model.h"
#include "grace/placement.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/synth.h"
#include "grace/topology.h"

namespace grace::plan {
namespace {

TEST(TaskQueue, RunsEveryTaskAndEveryTaskTheyPush) {
  for (int threads : {1, 2, 7}) {
    TaskQueue q;
    std::atomic<int> ran{0};
    std::vector<std::atomic<int>> per(40);
    for (int i = 0; i < 40; ++i)
      q.push_back([&, i] {
        ++ran, ++per[size_t(i)];
        for (int j = 0; j < 3; ++j)
          q.push_front([&, i] {
            ++ran, ++per[size_t(i)];
            q.push_back([&, i] { ++ran, ++per[size_t(i)]; });
          });
      });
    q.run(threads);
    EXPECT_EQ(ran.load(), 40 * 7) << threads << " threads";
    for (auto& n : per) EXPECT_EQ(n.load(), 7);
  }
}

TEST(TaskQueue, FrontTasksRunBeforeTheWaitingOnes) {
  TaskQueue q;
  std::string order;
  q.push_back([&] {
    order += 'a';
    q.push_front([&] { order += 'c'; });
    q.push_back([&] { order += 'd'; });
  });
  q.push_back([&] { order += 'b'; });
  q.run(1);
  EXPECT_EQ(order, "acbd");
}

TEST(TaskQueue, TheFirstExceptionComesBackAndLaterTasksAreDropped) {
  TaskQueue q;
  std::vector<int> ran;
  for (int i = 0; i < 10; ++i)
    q.push_back([&, i] {
      ran.push_back(i);
      if (i == 3) throw std::runtime_error("task 3 failed");
    });
  try {
    q.run(1);
    ADD_FAILURE() << "run() did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "task 3 failed");
  }
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3}));
  // With several threads the exception still comes back.
  TaskQueue q2;
  std::atomic<int> started{0};
  for (int i = 0; i < 64; ++i)
    q2.push_back([&, i] {
      ++started;
      if (i == 5) throw std::runtime_error("task 5 failed");
    });
  EXPECT_THROW(q2.run(4), std::runtime_error);
  EXPECT_GE(started.load(), 6);
}

// The grace planner runs each layer's searches and candidates as tasks; whatever order they run
// in, the placement is the same: 1, 2, 3 and 8 threads, at 2 nodes (METIS start candidate), 8
// nodes (equal-size start alone) and 1 node, with the home-replica rule of sglang-static too.
TEST(GracePlanner, PlacementDoesNotDependOnTheThreadCount) {
  const ModelSpec model = load_model("gpt-oss-20b");
  SynthOptions so;
  so.tokens = 4096, so.seed = 3;
  const Profile prof = build_profile(synthesize_trace(model, so));
  for (const char* topo_name : {"2x4", "8x2", "1x4"})
    for (const char* target : {"cover", "sglang-static"}) {
      const Topology topo = parse_topology(topo_name);
      std::vector<uint64_t> hashes;
      for (int threads : {1, 2, 3, 8}) {
        PlanOptions o;
        o.threads = threads;
        o.target_router = target;
        hashes.push_back(placement_hash(make_planner("grace")->plan({prof, model, topo, o})));
      }
      for (size_t i = 1; i < hashes.size(); ++i)
        EXPECT_EQ(hashes[i], hashes[0]) << topo_name << " " << target << ", threads index " << i;
    }
}

}  // namespace
}  // namespace grace::plan
