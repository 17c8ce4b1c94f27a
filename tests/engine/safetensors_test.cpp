#include "engine/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/rng.h"
#include "grace/engine/weights.h"
#include "grace/error.h"

namespace grace::engine {
namespace {

std::string tmp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("grace_engine_st_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) out.put(char((n >> (8 * b)) & 0xFF));
  out << header << data;
}

}  // namespace

TEST(Safetensors, RoundTripsF32Bf16F16) {
  const std::string path = tmp_path("rt.safetensors");
  std::vector<float> v = {1.0f, -2.5f, 0.333333f, 1024.0f, -0.0001f, 65504.0f};
  write_safetensors(path, {{"a", {"F32", {2, 3}, v}}, {"b", {"BF16", {6}, v}}, {"c", {"F16", {3, 2}, v}}});
  SafetensorsFile f(path);
  EXPECT_EQ(f.info("a").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.read_f32("a"), v);
  auto b = f.read_f32("b");
  auto c = f.read_f32("c", {3, 2});
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_NEAR(b[i], v[i], std::fabs(v[i]) * 1.0 / 128) << i;   // bf16: 8 mantissa bits
    EXPECT_NEAR(c[i], v[i], std::fabs(v[i]) * 1.0 / 1024) << i;  // f16: 11
  }
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(c[1], -2.5f);
  EXPECT_THROW(f.read_f32("a", {3, 2}), InputError);  // wrong shape
  try {
    f.read_f32("missing");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'missing' not found"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, ConversionsMatchKnownBitPatterns) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
}

TEST(Safetensors, RejectsBrokenFiles) {
  const std::string p = tmp_path("bad.safetensors");
  write_raw(p, "{not json", "");
  EXPECT_THROW(SafetensorsFile{p}, InputError);
  write_raw(p, R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0'));
  EXPECT_THROW(SafetensorsFile{p}, InputError);  // data section too short
  write_raw(p, R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", std::string(16, '\0'));
  EXPECT_THROW(SafetensorsFile{p}, InputError);  // bytes do not match dtype x shape
  write_raw(p, R"({"t":{"dtype":"F32","shape":[2]}})", std::string(8, '\0'));
  EXPECT_THROW(SafetensorsFile{p}, InputError);  // no offsets
  {
    std::ofstream out(p, std::ios::binary);
    out << "\xff\xff\xff\xff\xff\xff\xff\x7f{}";
  }
  EXPECT_THROW(SafetensorsFile{p}, InputError);  // header length beyond the file
  EXPECT_THROW(SafetensorsFile{tmp_path("does-not-exist")}, InputError);
  write_raw(p, R"({"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  SafetensorsFile ok(p);
  EXPECT_THROW(ok.read_f32("t"), InputError);  // unsupported dtype for weights
}

TEST(Weights, SafetensorsSourceReadsHuggingFaceNames) {
  const int64_t H = 4, I = 3;
  const std::string p = tmp_path("experts.safetensors");
  std::map<std::string, TensorToWrite> t;
  std::vector<float> g(size_t(H * I)), d(size_t(H * I));
  for (size_t i = 0; i < g.size(); ++i) g[i] = float(i) * 0.5f, d[i] = -float(i);
  // MoE layer 0 is model layer 1 when the model has one dense layer (DeepSeek-V2-Lite).
  for (const char* proj : {"gate_proj", "up_proj"}) t[expert_tensor_name(1, 2, proj)] = {"BF16", {I, H}, g};
  t[expert_tensor_name(1, 2, "down_proj")] = {"F32", {H, I}, d};
  write_safetensors(p, t);
  auto src = make_weight_source(p, H, I, /*dense_layers=*/1);
  ExpertWeights w;
  src->check(0, 2);
  src->load(0, 2, w);
  EXPECT_EQ(w.gate, g);  // multiples of 0.5 are exact in bf16
  EXPECT_EQ(w.down, d);
  try {
    src->check(0, 3);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.mlp.experts.3.gate_proj.weight"), std::string::npos)
        << e.what();
  }
  auto wrong = make_weight_source(p, H + 1, I, 1);
  EXPECT_THROW(wrong->check(0, 2), InputError);  // shape does not fit --hidden
  EXPECT_THROW(make_weight_source(tmp_path("nope.safetensors"), H, I, 1), InputError);
}

TEST(Weights, NonFiniteWeightsAndBadSeedsAreInputErrors) {
  const int64_t H = 4, I = 3;
  const std::string p = tmp_path("nan.safetensors");
  std::map<std::string, TensorToWrite> t;
  std::vector<float> ok(size_t(H * I), 0.25f), bad = ok;
  bad[5] = std::nanf("");
  t[expert_tensor_name(0, 0, "gate_proj")] = {"F32", {I, H}, ok};
  t[expert_tensor_name(0, 0, "up_proj")] = {"F32", {I, H}, bad};
  t[expert_tensor_name(0, 0, "down_proj")] = {"F32", {H, I}, ok};
  write_safetensors(p, t);
  auto src = make_weight_source(p, H, I, 0);
  ExpertWeights w;
  try {
    src->load(0, 0, w);
    FAIL() << "a NaN weight was loaded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("up_proj.weight' holds NaN at element 5"), std::string::npos) << e.what();
  }
  for (const char* spec : {"random:-1", "random:", "random:1x"})
    EXPECT_THROW(make_weight_source(spec, H, I, 0), InputError) << spec;
  EXPECT_NO_THROW(make_weight_source("random", H, I, 0));
  EXPECT_NO_THROW(make_weight_source("random:18446744073709551615", H, I, 0));
}

TEST(Weights, RandomWeightsArePureFunctionsOfSeedLayerExpert) {
  auto a = make_weight_source("random:7", 8, 4, 0);
  auto b = make_weight_source("random:7", 8, 4, 0);
  auto c = make_weight_source("random:8", 8, 4, 0);
  ExpertWeights wa, wb, wc, wd;
  a->load(1, 3, wa);
  b->load(1, 3, wb);
  c->load(1, 3, wc);
  a->load(1, 4, wd);
  EXPECT_EQ(wa.gate, wb.gate);
  EXPECT_EQ(wa.down, wb.down);
  EXPECT_NE(wa.gate, wc.gate);
  EXPECT_NE(wa.gate, wd.gate);
  for (float v : wa.gate) EXPECT_LE(std::fabs(v), 1.0f / std::sqrt(8.0f));
  EXPECT_THROW(make_weight_source("random:x1", 8, 4, 0), InputError);
}

// A full-size matrix (2^21 elements) is filled on several threads: every element is still the
// pure function of its index (a part skipped or written twice would show), as a small one is.
TEST(Weights, RandomWeightsOfAFullSizeExpertAreThePureFunctionOnEveryElement) {
  for (int64_t hidden : {int64_t(8), int64_t(2048)}) {
    const int64_t inter = hidden / 2 + 3;  // odd sizes: the parts do not divide the matrix evenly
    auto src = make_weight_source("random:11", hidden, inter, 0);
    ExpertWeights w;
    src->load(2, 5, w);
    const size_t n = size_t(hidden) * size_t(inter);
    ASSERT_EQ(w.gate.size(), n);
    ASSERT_EQ(w.down.size(), n);
    const float up_scale = 1.0f / std::sqrt(float(hidden)), down_scale = 1.0f / std::sqrt(float(inter));
    size_t wrong = 0;
    for (size_t k = 0; k < n; ++k) {
      wrong += w.gate[k] != up_scale * uniform_pm1(mix_key(11, 2, 5, 0), k);
      wrong += w.up[k] != up_scale * uniform_pm1(mix_key(11, 2, 5, 1), k);
      wrong += w.down[k] != down_scale * uniform_pm1(mix_key(11, 2, 5, 2), k);
    }
    EXPECT_EQ(wrong, 0u) << hidden << " x " << inter;
  }
}

}  // namespace grace::engine
