// Every malformed trace file gives an InputError whose message names the file.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fixture.h"
#include "grace/error.h"
#include "grace/trace_io.h"

namespace grace {
namespace {

using testing::npy_bytes;
using testing::npy_dict;
using testing::raw_bytes;
using testing::TempDir;
using testing::write_bytes;

const std::string kShape = "(4, 2, 2)";
const std::string kIds16 = std::string(16, '\1');  // 4 x 2 x 2 uint8 ids, all 1

// Reads the trace in `dir` fully (with weights); expects an InputError naming `file` and
// containing `words`.
void expect_error(const TempDir& dir, const std::string& file, const std::string& words, int experts = 8) {
  try {
    read_trace({dir.str()}, experts, true);
    FAIL() << "accepted: " << words;
  } catch (const InputError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(words), std::string::npos) << msg;
  }
}

TEST(TraceBadInput, WrongMagic) {
  for (const char* name : {"topk_ids.npy", "topk_ids.npy.gz"}) {
    TempDir d;
    write_bytes(d / name, "PK\3\4 this is a zip file, not numpy");
    expect_error(d, d / name, "wrong magic");
  }
}

TEST(TraceBadInput, TruncatedHeader) {
  TempDir d;
  std::string full = npy_bytes(npy_dict("|u1", kShape), kIds16);
  write_bytes(d / "topk_ids.npy", full.substr(0, 40));
  expect_error(d, d / "topk_ids.npy", "truncated");
}

TEST(TraceBadInput, TruncatedData) {
  for (const char* name : {"topk_ids.npy", "topk_ids.npy.gz"}) {
    TempDir d;
    write_bytes(d / name, npy_bytes(npy_dict("|u1", kShape), kIds16.substr(0, 11)));
    expect_error(d, d / name, "truncated");
  }
}

TEST(TraceBadInput, CorruptGzip) {
  TempDir d;
  TempDir src;
  std::string data(1600, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char((i * 2654435761u >> 13) % 8);
  write_bytes(src / "x.gz", npy_bytes(npy_dict("|u1", "(400, 2, 2)"), data));
  std::ifstream in(src / "x.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), {});
  gz.resize(gz.size() / 2 + 5);  // cut the compressed stream
  write_bytes(d / "topk_ids.npy.gz.part", gz);
  std::filesystem::rename(d / "topk_ids.npy.gz.part", d / "topk_ids.npy.gz");
  try {
    read_trace({d.str()}, 8);
    FAIL() << "truncated gzip accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(d / "topk_ids.npy.gz"), std::string::npos) << e.what();
  }
}

TEST(TraceBadInput, FortranOrder) {
  TempDir d;
  write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("|u1", kShape, true), kIds16));
  expect_error(d, d / "topk_ids.npy", "Fortran");
}

TEST(TraceBadInput, DtypeNotAllowed) {
  {
    TempDir d;  // float ids
    write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("<f4", kShape), std::string(64, '\0')));
    expect_error(d, d / "topk_ids.npy", "<f4");
  }
  {
    TempDir d;  // big-endian
    write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict(">i4", kShape), std::string(64, '\0')));
    expect_error(d, d / "topk_ids.npy", ">i4");
  }
  {
    TempDir d;  // int32 offsets
    write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("|u1", kShape), kIds16));
    write_bytes(d / "seq_offsets.npy", npy_bytes(npy_dict("<i4", "(2,)"), raw_bytes(std::vector<int32_t>{0, 4})));
    expect_error(d, d / "seq_offsets.npy", "int64");
  }
  {
    TempDir d;  // uint8 weights
    write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("|u1", kShape), kIds16));
    write_bytes(d / "topk_weights_f32.npy", npy_bytes(npy_dict("|u1", kShape), kIds16));
    expect_error(d, d / "topk_weights_f32.npy", "|u1");
  }
}

TEST(TraceBadInput, ShapeNotTokensLayersK) {
  for (const char* shape : {"(16,)", "(4, 4)", "(2, 2, 2, 2)", "(4, 0, 4)"}) {
    TempDir d;
    write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("|u1", shape), kIds16));
    expect_error(d, d / "topk_ids.npy", "shape");
  }
}

TEST(TraceBadInput, WeightsShapeDiffers) {
  TempDir d;
  write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("|u1", kShape), kIds16));
  write_bytes(d / "topk_probs_f16.npy.gz", npy_bytes(npy_dict("<f2", "(4, 2, 1)"), std::string(16, '\0')));
  expect_error(d, d / "topk_probs_f16.npy.gz", "shape");
}

TEST(TraceBadInput, IdsOutOfRangeOrNegative) {
  {
    TempDir d;
    std::string ids = kIds16;
    ids[13] = 9;  // token 3, layer 0
    write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("|u1", kShape), ids));
    expect_error(d, d / "topk_ids.npy", "expert id 9 >= 8");
  }
  {
    TempDir d;
    std::vector<int64_t> ids(16, 2);
    ids[5] = -3;
    write_bytes(d / "topk_ids.npy.gz", npy_bytes(npy_dict("<i8", kShape), raw_bytes(ids)));
    expect_error(d, d / "topk_ids.npy.gz", "negative");
  }
}

TEST(TraceBadInput, BadOffsets) {
  struct Case {
    std::vector<int64_t> offs;
    const char* words;
  };
  for (const Case& c : {Case{{1, 4}, "start at 0"}, Case{{0, 3, 2, 4}, "not strictly increasing"},
                        Case{{0, 2, 5}, "end at 5"}, Case{{0, 2}, "end at 2"}}) {
    TempDir d;
    write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("|u1", kShape), kIds16));
    write_bytes(d / "seq_offsets.npy",
                npy_bytes(npy_dict("<i8", fmt::format("({},)", c.offs.size())), raw_bytes(c.offs)));
    expect_error(d, d / "seq_offsets.npy", c.words);
  }
}

TEST(TraceBadInput, MissingPath) {
  try {
    read_trace({"/nonexistent/dir/topk_ids.npy"}, 8);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/topk_ids.npy"), std::string::npos);
  }
}

}  // namespace
}  // namespace grace
