// Every topology preset the repository ships (bench/cuda/topologies/*.json, the fitted emulated
// clusters that docs/simulator.md tells users to pass to --topology) parses as a topology. They
// once carried a `fit` key that parse_topology rejects, which made every one of them unusable.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "grace/topology.h"

namespace {

TEST(CommittedPresets, EveryShippedTopologyFileParses) {
  const std::filesystem::path dir = std::filesystem::path(GRACE_SOURCE_DIR) / "bench" / "cuda" / "topologies";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    grace::Topology t;
    EXPECT_NO_THROW(t = grace::parse_topology(entry.path().string()));
    EXPECT_GE(t.nodes, 1);
    EXPECT_GT(t.inter.bandwidth_GBps, 0.0);
  }
  EXPECT_GE(files, 5);
}

}  // namespace
