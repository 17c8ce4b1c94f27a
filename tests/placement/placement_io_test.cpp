#include "grace/placement_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "placement/placement_fixture.h"

namespace grace {
namespace {

using testing::expect_input_error;
using testing::small_placement;
using testing::toy_model;

void expect_equal(const Placement& a, const Placement& b) {
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_experts, b.num_experts);
  EXPECT_EQ(a.nodes, b.nodes);
  EXPECT_EQ(a.gpus_per_node, b.gpus_per_node);
  EXPECT_EQ(a.slots_per_gpu, b.slots_per_gpu);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    ASSERT_EQ(a.layers[l].experts.size(), b.layers[l].experts.size());
    for (size_t e = 0; e < a.layers[l].experts.size(); ++e) {
      const auto& x = a.layers[l].experts[e].instances;
      const auto& y = b.layers[l].experts[e].instances;
      ASSERT_EQ(x.size(), y.size()) << "layer " << l << " expert " << e;
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(x[i].gpu, y[i].gpu);
        EXPECT_EQ(x[i].weight, y[i].weight);  // exact: shortest round-trip doubles
      }
    }
  }
}

TEST(PlacementJson, RoundTripIsExact) {
  Placement p = small_placement();
  p.model = "we\"ird \\ name";
  p.seed = 18446744073709551615ull;
  p.layers[1].experts[2].instances = {{1, 0.1 + 0.2}, {3, 1 - (0.1 + 0.2)}};
  std::string text = placement_to_json(p);
  Placement q = placement_from_json(text, "mem");
  expect_equal(p, q);
  EXPECT_EQ(placement_to_json(q), text);
  EXPECT_EQ(placement_hash(q), placement_hash(p));
}

TEST(PlacementJson, SaveAndLoadFile) {
  auto dir = std::filesystem::temp_directory_path() / ("grace_pio_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "p.json").string();
  save_placement(small_placement(), path);
  expect_equal(load_placement(path), small_placement());
  for (const auto& f : std::filesystem::directory_iterator(dir))  // no temp file left behind
    EXPECT_EQ(f.path().filename(), "p.json");
  expect_input_error([&] { save_placement(small_placement(), (dir / "no/such/dir.json").string()); },
                     {"no/such/dir.json"});
  expect_input_error([&] { load_placement((dir / "missing.json").string()); }, {"missing.json"});
  std::filesystem::remove_all(dir);
}

// Replaces the first occurrence of `from` in the JSON of the small placement.
std::string mutate(const std::string& from, const std::string& to) {
  std::string s = placement_to_json(small_placement());
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(PlacementJson, RejectsBadFilesNamingSourceAndPlace) {
  auto bad = [](const std::string& text, std::initializer_list<std::string> parts) {
    expect_input_error([&] { placement_from_json(text, "f.json"); }, parts);
  };
  bad("{", {"placement 'f.json'", "not valid JSON"});
  bad("[1]", {"f.json", "object"});
  bad(mutate("grace-placement", "other"), {"f.json", "format is \"other\""});
  bad(mutate("\"version\": 1", "\"version\": 2"), {"f.json", "version 2 is not supported"});
  bad(mutate("\"version\": 1", "\"version\": \"1\""), {"f.json", "'version' must be an integer"});
  bad(mutate("\"nodes\": 2", "\"nodes\": 2.5"), {"f.json", "topology", "'nodes' must be an integer"});
  bad(mutate("\"slots_per_gpu\": 3", "\"slots_per_gpu\": 0"), {"f.json", "'slots_per_gpu' = 0"});
  bad(mutate("\"num_layers\": 2", "\"num_layers\": 3"), {"f.json", "num_layers = 3"});
  bad(mutate("\"num_experts\": 8", "\"num_experts\": 9"), {"f.json", "layer 0", "num_experts = 9"});
  bad(mutate("{\"instances\": [0, 3], \"weights\": [0.75, 0.25]}", "{\"instances\": [], \"weights\": []}"),
      {"f.json", "layer 0, expert 0", "every expert must be placed"});
  bad(mutate("\"weights\": [0.75, 0.25]", "\"weights\": [0.75, \"x\"]"),
      {"f.json", "layer 0, expert 0: weight 1 is \"x\", expected a number"});
  bad(mutate("\"weights\": [0.75, 0.25]", "\"weights\": [1.25, -0.25]"),
      {"f.json", "layer 0, expert 0: weight 1 = -0.25 must be positive"});
  bad(mutate("\"weights\": [0.75, 0.25]", "\"weights\": [1, 0]"), {"layer 0, expert 0: weight 1 = 0 must be positive"});
  bad(mutate("\"weights\": [0.75, 0.25]", "\"weights\": [NaN, 0.25]"), {"f.json", "not valid JSON"});
  bad(mutate("\"weights\": [0.75, 0.25]", "\"weights\": [0.75, 0.5]"), {"layer 0, expert 0: weights sum to 1.25"});
  bad(mutate("\"weights\": [0.75, 0.25]", "\"weights\": [1]"), {"layer 0, expert 0", "one weight per instance"});
  bad(mutate("\"instances\": [0, 3]", "\"instances\": [0, 0]"),
      {"f.json", "layer 0, expert 0: two instances on GPU 0"});
  bad(mutate("\"instances\": [0, 3]", "\"instances\": [0, 4]"),
      {"f.json", "layer 0, expert 0: instance on GPU 4 but the topology has 4 GPUs"});
  bad(mutate("\"instances\": [0, 3]", "\"instances\": [0, \"3\"]"), {"layer 0, expert 0: instance 1 is \"3\""});
  bad(mutate("\"model\": \"toy\"", "\"model\": 7"), {"f.json", "'model' must be a string"});
  bad(mutate(", \"num_experts\": 8", ""), {"f.json", "missing field 'num_experts'"});
}

TEST(PlacementJson, MissingWeightsMeanEqualShares) {
  Placement q = placement_from_json(mutate(", \"weights\": [0.75, 0.25]", ""), "f.json");
  EXPECT_EQ(q.layers[0].experts[0].instances[0].weight, 0.5);
  EXPECT_EQ(q.layers[0].experts[0].instances[1].weight, 0.5);
}

}  // namespace
}  // namespace grace
