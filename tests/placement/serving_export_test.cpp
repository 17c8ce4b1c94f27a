// SGLang / vLLM exports: physical layout, rows per decoder layer, flags, the SGLang-side load
// checks (sglang_harness.h) for every preset, the dispatch map, vLLM's initial map, import.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "grace/model.h"
#include "grace/placement_io.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/serving.h"
#include "grace/synth.h"
#include "grace/topology.h"
#include "placement/placement_fixture.h"
#include "placement/sglang_harness.h"

namespace grace {
namespace {

using testing::expect_input_error;
using testing::small_placement;
using testing::toy_model;

std::vector<int32_t> row_of(const PhysicalLayout& lay, int l) {
  return std::vector<int32_t>(lay.row(l), lay.row(l) + lay.num_physical());
}

TEST(PhysicalLayout, SpareSlotsGetRealReplicasNeverSameGpuDuplicates) {
  const PhysicalLayout lay = physical_layout(small_placement());
  ASSERT_EQ(lay.num_physical(), 12);
  // Layer 0: GPU 2 hosts 4, 5 and has one spare slot: the fewest-copies expert with no copy on
  // node 1 is expert 1. Layer 1: each GPU has one spare slot, filled round-robin.
  EXPECT_EQ(row_of(lay, 0), (std::vector<int32_t>{0, 1, 5, 2, 3, 5, 4, 5, 1, 6, 7, 0}));
  EXPECT_EQ(row_of(lay, 1), (std::vector<int32_t>{0, 1, 4, 2, 3, 5, 4, 5, 0, 6, 7, 1}));
  EXPECT_EQ(lay.spare_slots_filled, 5);
  for (int l = 0; l < 2; ++l)
    for (int g = 0; g < 4; ++g) {
      std::set<int> seen(lay.row(l) + g * 3, lay.row(l) + g * 3 + 3);
      EXPECT_EQ(seen.size(), 3u) << "layer " << l << " GPU " << g;
    }
  Placement tight = small_placement();
  tight.slots_per_gpu = 2;
  expect_input_error([&] { physical_layout(tight); }, {"layer 0, GPU 0: 3 instances do not fit in 2 slots"});
}

TEST(SglangExport, RowsForEveryDecoderLayerWithDenseLayersFirst) {
  ModelSpec m = toy_model();
  m.dense_layers = 1;
  const SglangExport e = export_sglang(small_placement(), m);
  EXPECT_EQ(e.num_layers, 3);
  EXPECT_EQ(e.num_physical, 12);
  EXPECT_EQ(e.redundant, 4);
  EXPECT_EQ(e.ep_size, 4);
  EXPECT_EQ(e.json,
            "{\"physical_to_logical_map\": [\n"
            "  [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3],\n"
            "  [0, 1, 5, 2, 3, 5, 4, 5, 1, 6, 7, 0],\n"
            "  [0, 1, 4, 2, 3, 5, 4, 5, 0, 6, 7, 1]]}\n");
  EXPECT_EQ(sglang_flags(e, "p.json"),
            "--init-expert-location p.json --ep-num-redundant-experts 4 --ep-size 4 --ep-dispatch-algorithm static");
  testing::SglangServer s{3, {1, 2}, 8, 4, 4};
  EXPECT_EQ(testing::sglang_load("p.json", e.json, s), "");
  s.ep_num_redundant_experts = 0;  // the flag left at its default
  EXPECT_NE(testing::sglang_load("p.json", e.json, s), "");
  ModelSpec wrong = toy_model();
  wrong.experts = 16;
  expect_input_error([&] { export_sglang(small_placement(), wrong); }, {"2 MoE layers x 8 experts", "2 x 16"});
}

Profile synthetic_profile(const ModelSpec& m) {
  SynthOptions o;
  o.tokens = 2048;
  return build_profile(synthesize_trace(m, o));
}

// Every preset, planned at 2x4 and exported, loads in the SGLang model with the printed flags;
// the rows are absolute decoder layers (DeepSeek-V2-Lite: 27, GPT-OSS-20B: 24).
TEST(SglangExport, EveryPresetLoadsInSglangWithThePrintedFlags) {
  const Topology topo = parse_topology("2x4");
  for (const std::string& name : model_preset_names()) {
    const ModelSpec m = load_model(name);
    const Profile prof = synthetic_profile(m);
    std::vector<std::string> policies = {"contiguous", "eplb"};
    if (name == "deepseek-v2-lite" || name == "gpt-oss-20b") policies.push_back("grace");
    for (const auto& policy : policies) {
      SCOPED_TRACE(name + " / " + policy);
      const Placement p = make_planner(policy)->plan(PlanContext{prof, m, topo, {}});
      const SglangExport e = export_sglang(p, m);
      EXPECT_EQ(e.num_layers, m.dense_layers + m.moe_layers);
      if (name == "deepseek-v2-lite") {
        EXPECT_EQ(e.num_layers, 27);
      }
      if (name == "gpt-oss-20b") {
        EXPECT_EQ(e.num_layers, 24);
      }
      EXPECT_EQ(e.num_physical, m.experts + e.redundant);
      EXPECT_EQ(e.num_physical % 8, 0);
      testing::SglangServer s;
      s.num_hidden_layers = m.dense_layers + m.moe_layers;
      for (int l = 0; l < m.moe_layers; ++l) s.moe_layer_ids.push_back(m.dense_layers + l);
      s.num_logical = m.experts;
      s.ep_num_redundant_experts = e.redundant;
      s.ep_size = e.ep_size;
      EXPECT_EQ(testing::sglang_load("p.json", e.json, s), "");
      EXPECT_NO_THROW(check_sglang_file(e.json, m, 8, e.redundant, "p.json"));
      const auto d = nlohmann::json::parse(export_sglang_dispatch(p, m))["logical_to_rank_dispatch_physical_map"];
      ASSERT_EQ(d.size(), 8u);
      ASSERT_EQ(int(d[7].size()), e.num_layers);
      ASSERT_EQ(int(d[7][e.num_layers - 1].size()), m.experts);
      // The old MoE-only export (rows shifted by the dense layers) fails in SGLang.
      if (m.dense_layers > 0) {
        nlohmann::json j = nlohmann::json::parse(e.json);
        auto& rows = j["physical_to_logical_map"];
        rows.erase(rows.begin());
        EXPECT_NE(testing::sglang_load("p.json", j.dump(), s).find("IndexError"), std::string::npos);
      }
    }
  }
}

TEST(SglangCheck, RejectsWhatSglangRejects) {
  const ModelSpec m = toy_model();  // 2 layers x 8 experts
  const std::string good = export_sglang(small_placement(), m).json;
  EXPECT_EQ(check_sglang_file(good, m, 4, 4, "f.json").max_copies, 3);
  auto bad = [&](const std::string& text, int ep, int red, std::initializer_list<std::string> parts) {
    expect_input_error([&] { check_sglang_file(text, m, ep, red, "f.json"); }, parts);
  };
  bad(good, 4, 0, {"f.json", "12 columns but the server expects 8 experts + 0 redundant"});
  bad(good, 5, 4, {"12 do not divide over --ep-size 5"});
  bad("{\"physical_to_logical_map\": [[0,1,2,3,4,5,6,7]]}", 4, -1, {"1 rows but model 'toy' has 2 decoder layers"});
  bad("{\"physical_to_logical_map\": [[0,1,2,3,4,5,6,7],[0,1,2,3,4,5,6,9]]}", 4, -1,
      {"row 1, physical expert 7: logical id 9 is outside [0, 8)"});
  bad("{\"physical_to_logical_map\": [[0,1,2,3,4,5,6,7],[0,1,2,3,4,5,6,6]]}", 4, -1,
      {"row 1: logical expert 7 has no physical copy"});
  bad("{\"physical_to_logical_map\": [[0,1,2,3,4,5,6,7],[0,1,2,3,4,5,6]]}", 4, -1, {"row 1 has 7 entries"});
  bad("{\"physical_to_logical_map\": [[0,1,2,3,4,5,6,7],[0,1,2,3,4,5,6,\"7\"]]}", 4, -1, {"is not an integer"});
  bad("{\"physical_to_logical_map\": [], \"logical_count\": 1}", 4, -1, {"unexpected key 'logical_count'"});
  bad("[1, 2]", 4, -1, {"expected a JSON object"});
  bad("{", 4, -1, {"not valid JSON"});
}

TEST(SglangDispatch, OwnCopyElseNodeCopyElseAnyInSglangLayout) {
  ModelSpec m = toy_model();
  m.dense_layers = 1;
  const Placement p = small_placement();
  const PhysicalLayout lay = physical_layout(p);
  const nlohmann::json j = nlohmann::json::parse(export_sglang_dispatch(p, m));
  const auto& d = j["logical_to_rank_dispatch_physical_map"];
  ASSERT_EQ(d.size(), 4u);  // ranks
  for (int g = 0; g < 4; ++g) {
    ASSERT_EQ(d[g].size(), 3u);                                       // decoder layers
    for (int e = 0; e < 8; ++e) EXPECT_EQ(d[g][0][e].get<int>(), e);  // dense row: trivial map
    for (int l = 0; l < 2; ++l)
      for (int e = 0; e < 8; ++e) {
        const int q = d[g][l + 1][e].get<int>();
        ASSERT_EQ(lay.row(l)[q], e) << g << "/" << l << "/" << e;
        bool own = false, node = false;
        for (int x = 0; x < 12; ++x)
          if (lay.row(l)[x] == e) own |= x / 3 == g, node |= x / 6 == g / 2;
        if (own) {
          EXPECT_EQ(q / 3, g);
        } else if (node) {
          EXPECT_EQ(q / 6, g / 2);
        }
      }
  }
  // Layer 0, expert 0: copies on GPU 0 (weight 0.75) and GPU 3 (0.25): GPU 1 uses GPU 0's copy
  // (its node), GPU 2 uses GPU 3's.
  EXPECT_EQ(d[1][1][0].get<int>(), 0);
  EXPECT_EQ(d[2][1][0].get<int>(), 11);
}

TEST(VllmExport, OneBareRowPerMoeLayerAndRoundTrip) {
  const Placement p = small_placement();
  const std::string text = export_placement(p, ExportFormat::kVllm, toy_model());
  EXPECT_EQ(text, "[\n [0, 1, 5, 2, 3, 5, 4, 5, 1, 6, 7, 0],\n [0, 1, 4, 2, 3, 5, 4, 5, 0, 6, 7, 1]]\n");
  const Placement q = import_placement(text, ExportFormat::kVllm, 2, 2, "v.json");
  const PhysicalLayout a = physical_layout(p), b = physical_layout(q);
  for (int l = 0; l < 2; ++l)  // the import holds the filled replicas, on the same GPUs
    for (int g = 0; g < 4; ++g) {
      std::set<int> x(a.row(l) + g * 3, a.row(l) + g * 3 + 3), y(b.row(l) + g * 3, b.row(l) + g * 3 + 3);
      EXPECT_EQ(x, y) << "layer " << l << " GPU " << g;
    }
  EXPECT_EQ(q.slots_per_gpu, 3);
  expect_input_error([] { import_placement("{\"a\": 1}", ExportFormat::kVllm, 2, 2, "v.json"); },
                     {"v.json", "JSON array of layers"});
  expect_input_error([] { import_placement("[[0, 1, 2]]", ExportFormat::kVllm, 2, 2, "v.json"); },
                     {"3 physical experts do not divide over 4 GPUs"});
}

TEST(SglangImport, DropsDenseRowsAndRecoversInstances) {
  ModelSpec m = toy_model();
  m.dense_layers = 1;
  const Placement p = small_placement();
  const Placement q = import_placement(export_sglang(p, m).json, ExportFormat::kSglang, 2, 2, "s.json", 1);
  ASSERT_EQ(q.num_layers, 2);
  ASSERT_EQ(q.num_experts, 8);
  for (int l = 0; l < 2; ++l)
    for (int e = 0; e < 8; ++e)
      for (const auto& in : p.layers[l].experts[e].instances) {
        bool found = false;
        for (const auto& x : q.layers[l].experts[e].instances) found |= x.gpu == in.gpu;
        EXPECT_TRUE(found) << l << "/" << e << " GPU " << in.gpu;
      }
  EXPECT_NO_THROW(validate_placement(q, parse_topology("2x2"), toy_model()));
  expect_input_error([] { import_placement("{\"map\": []}", ExportFormat::kSglang, 2, 2, "e.json"); },
                     {"e.json", "missing 'physical_to_logical_map'"});
  EXPECT_THROW(parse_export_format("trt"), InputError);
  EXPECT_EQ(parse_export_format("sglang-dispatch"), ExportFormat::kSglangDispatch);
}

}  // namespace
}  // namespace grace
