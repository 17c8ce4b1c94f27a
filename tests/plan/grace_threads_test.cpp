// The grace planner runs each layer's searches and candidates as tasks on a TaskQueue
// (src/core/task_queue.h); its placement does not depend on the thread count.
#include <gtest/gtest.h>

#include <vector>

#include "grace/model.h"
#include "grace/placement.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/synth.h"
#include "grace/topology.h"

namespace grace::plan {
namespace {

// The grace planner runs each layer's searches and candidates as tasks; whatever order they run
// in, the placement is the same: 1, 2, 3 and 8 threads, at 2 nodes (METIS start candidate), 4
// nodes (the node search's kicks, each seeded by its layer and load limit), 8 nodes (equal-size
// start alone) and 1 node, with the home-replica rule of sglang-static too.
TEST(GracePlanner, PlacementDoesNotDependOnTheThreadCount) {
  const ModelSpec model = load_model("gpt-oss-20b");
  SynthOptions so;
  so.tokens = 4096, so.seed = 3;
  const Profile prof = build_profile(synthesize_trace(model, so));
  for (const char* topo_name : {"2x4", "4x2", "8x2", "1x4"})
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
