// Parser regressions: inputs found by the fuzz targets (fuzz/) or by review that once escaped as
// something other than grace::InputError (std::bad_alloc, a JSON type error, a stack overflow,
// signed overflow) or were silently accepted. Each must now be an InputError naming the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/topology.h"
#include "grace/trace_io.h"
#include "reliability/fixtures.h"
#include "trace/npy.h"
#ifdef GRACE_HAVE_ENGINE
#include "engine/safetensors.h"
#endif

namespace fs = std::filesystem;
using grace::reliability::write_raw_npy;
using grace::reliability::write_text;

namespace {

class ParserRegression : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("grace-regress-" + std::to_string(::getpid()))).string();
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

// Runs f, expects an InputError whose message contains `needle`.
template <typename F>
void expect_input_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const grace::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST_F(ParserRegression, NpyHugeShapeFailsAsTruncatedWithoutAllocating) {
  write_raw_npy(path("a.npy"), "<i8", {int64_t(1) << 40}, std::string(16, '\0'));
  grace::NpyReader r;
  r.open(path("a.npy"));
  std::vector<int64_t> out;
  expect_input_error([&] { r.read_int64(r.remaining(), out); }, "truncated data");
}

TEST_F(ParserRegression, NpyShapeProductOverflowIsRejected) {
  write_raw_npy(path("a.npy"), "|u1", {int64_t(1) << 40, int64_t(1) << 40}, "");
  grace::NpyReader r;
  expect_input_error([&] { r.open(path("a.npy")); }, "too many elements");
}

TEST_F(ParserRegression, TraceHeaderTokenCountIsNotTrusted) {
  write_raw_npy(path("t/topk_ids.npy"), "|u1", {int64_t(1) << 40, 26, 6}, std::string(100, '\1'));
  expect_input_error([&] { grace::read_trace({path("t")}, 0); }, "truncated data");
}

// Found by model_fuzz (crash-69acaf06...): {"name":26,...} escaped as a JSON type error.
TEST_F(ParserRegression, ModelNameMustBeAString) {
  write_text(path("m.json"),
             R"({"name":26, "moe_layers": 2, "experts": 8, "top_k": 2, "hidden": 64, "moe_intermediate": 32})");
  expect_input_error([&] { grace::load_model(path("m.json")); }, "'name' must be a string");
}

TEST_F(ParserRegression, ModelIntegerFieldsDoNotWrap) {
  write_text(path("m.json"),
             R"({"moe_layers": 2, "experts": 4294967304, "top_k": 2, "hidden": 64, "moe_intermediate": 32})");
  expect_input_error([&] { grace::load_model(path("m.json")); }, "out of range");
  write_text(path("m.json"),
             R"({"moe_layers": 2, "experts": 18446744073709551615, "top_k": 2, "hidden": 64, "moe_intermediate": 32})");
  expect_input_error([&] { grace::load_model(path("m.json")); }, "out of range");
}

TEST_F(ParserRegression, TopologyPresetMustBeABuiltInName) {
  write_text(path("t.json"), R"({"preset": 7})");
  expect_input_error([&] { grace::parse_topology(path("t.json")); }, "'preset' must be a string");
  write_text(path("self.json"), R"({"preset": ")" + path("self.json") + R"("})");
  expect_input_error([&] { grace::parse_topology(path("self.json")); }, "not a file");
  write_text(path("n.json"), R"({"name": 7})");
  expect_input_error([&] { grace::parse_topology(path("n.json")); }, "n.json");
}

#ifdef GRACE_HAVE_ENGINE
TEST_F(ParserRegression, SafetensorsShapeProductOverflowIsRejected) {
  const std::string header = R"({"x": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 0]}})";
  std::string file(8, '\0');
  for (int b = 0; b < 8; ++b) file[size_t(b)] = char((header.size() >> (8 * b)) & 0xff);
  write_text(path("w.safetensors"), file + header);
  expect_input_error([&] { grace::engine::SafetensorsFile f(path("w.safetensors")); }, "implausible shape");
}
#endif

}  // namespace
