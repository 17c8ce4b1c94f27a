#include "grace/trace_io.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "fixture.h"
#include "grace/error.h"
#include "trace/npy.h"

namespace grace {
namespace {

using testing::npy_bytes;
using testing::npy_dict;
using testing::raw_bytes;
using testing::TempDir;
using testing::write_bytes;

constexpr int kT = 23, kL = 3, kK = 2, kE = 10;
const std::vector<int64_t> kOffsets = {0, 5, 6, 15, 23};

int64_t ref_id(int64_t t, int l, int j) { return (t + 2 * l + 3 * j) % kE; }

template <typename T>
std::vector<T> ref_ids() {
  std::vector<T> v;
  for (int64_t t = 0; t < kT; ++t)
    for (int l = 0; l < kL; ++l)
      for (int j = 0; j < kK; ++j) v.push_back(T(ref_id(t, l, j)));
  return v;
}

const std::string kShape = "(23, 3, 2)";

// Writes <dir>/<prefix>topk_ids<ext> with ids of type T and the offsets file.
template <typename T>
std::string write_ref(const TempDir& dir, const std::string& descr, const std::string& prefix, bool gz) {
  std::string ids = dir / (prefix + "topk_ids.npy" + (gz ? ".gz" : ""));
  write_bytes(ids, npy_bytes(npy_dict(descr, kShape), raw_bytes(ref_ids<T>())));
  write_bytes(dir / (prefix + "seq_offsets.npy"), npy_bytes(npy_dict("<i8", "(5,)"), raw_bytes(kOffsets)));
  return ids;
}

void expect_ref(const Trace& tr) {
  ASSERT_EQ(tr.num_tokens(), kT);
  ASSERT_EQ(tr.num_layers, kL);
  ASSERT_EQ(tr.top_k, kK);
  EXPECT_EQ(tr.seq_offsets, kOffsets);
  for (int64_t t = 0; t < kT; ++t)
    for (int l = 0; l < kL; ++l)
      for (int j = 0; j < kK; ++j) ASSERT_EQ(tr.topk(t, l)[j], ref_id(t, l, j)) << t << " " << l << " " << j;
}

TEST(TraceIo, ReadsEveryIdDtypePlainAndGzip) {
  for (bool gz : {false, true}) {
    {
      TempDir d;
      expect_ref(read_trace({write_ref<uint8_t>(d, "|u1", "", gz)}, kE));
    }
    {
      TempDir d;
      expect_ref(read_trace({write_ref<uint16_t>(d, "<u2", "x_", gz)}, kE));
    }
    {
      TempDir d;
      expect_ref(read_trace({write_ref<int32_t>(d, "<i4", "", gz)}, kE));
    }
    {
      TempDir d;
      expect_ref(read_trace({write_ref<int64_t>(d, "<i8", "", gz)}, 0));
    }
  }
}

// A format 2.0 header (4-byte header length, as np.save writes for a long dict), plain and
// gzip-compressed: the same trace.
TEST(TraceIo, ReadsVersion2Headers) {
  auto version2 = [](const std::string& v1) {  // the same file with a 2.0 header
    std::string out = v1.substr(0, 6) + std::string("\x02\x00", 2) + v1.substr(8, 2) + std::string(2, '\0');
    return out + v1.substr(10);
  };
  for (bool gz : {false, true}) {
    SCOPED_TRACE(gz ? "gzip" : "plain");
    TempDir d;
    const std::string ids = d / (std::string("topk_ids.npy") + (gz ? ".gz" : ""));
    write_bytes(ids, version2(npy_bytes(npy_dict("<u2", kShape), raw_bytes(ref_ids<uint16_t>()))));
    write_bytes(d / "seq_offsets.npy", version2(npy_bytes(npy_dict("<i8", "(5,)"), raw_bytes(kOffsets))));
    expect_ref(read_trace({ids}, kE));
  }
}

TEST(TraceIo, ReadsWeightsOfEachKind) {
  const int64_t n = int64_t(kT) * kL * kK;
  std::vector<uint16_t> x1e4(n), f16(n);
  std::vector<float> f32(n);
  for (int64_t i = 0; i < n; ++i) {
    x1e4[i] = uint16_t(i % 10000);
    f16[i] = 0x3800;  // 0.5 in IEEE half
    f32[i] = float(i) / 7.0f;
  }
  struct Case {
    std::string stem, descr, bytes;
  };
  for (const Case& c :
       {Case{"topk_weights_x1e4.npy.gz", "<u2", raw_bytes(x1e4)}, Case{"topk_probs_f16.npy.gz", "<f2", raw_bytes(f16)},
        Case{"topk_weights_f32.npy", "<f4", raw_bytes(f32)}}) {
    TempDir d;
    std::string ids = write_ref<uint8_t>(d, "|u1", "law_", true);
    write_bytes(d / ("law_" + c.stem), npy_bytes(npy_dict(c.descr, kShape), c.bytes));
    EXPECT_FALSE(resolve_trace(ids).weights.empty()) << c.stem;
    Trace tr = read_trace({d.str()}, kE, true);
    expect_ref(tr);
    ASSERT_EQ(int64_t(tr.weights.size()), n) << c.stem;
    for (int64_t i = 0; i < n; i += 13) {
      float want = c.descr == "<u2" ? float(x1e4[i]) / 1e4f : c.descr == "<f2" ? 0.5f : f32[i];
      EXPECT_FLOAT_EQ(tr.weights[i], want) << c.stem << " " << i;
    }
    EXPECT_TRUE(read_trace({ids}, kE, false).weights.empty());
  }
}

TEST(TraceIo, HalfToFloat) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x0000), 0.0f);
  EXPECT_FLOAT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_FLOAT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
}

TEST(TraceIo, ResolvesDirectoriesAndSiblings) {
  TempDir d;
  std::string ids = write_ref<uint8_t>(d, "|u1", "law_", true);
  TraceFiles f = resolve_trace(d.str());
  EXPECT_EQ(f.ids, ids);
  EXPECT_EQ(f.offsets, d / "law_seq_offsets.npy");
  EXPECT_TRUE(f.weights.empty());
  // A second ids file makes the directory ambiguous; the error lists both.
  write_ref<uint8_t>(d, "|u1", "intent_", false);
  try {
    resolve_trace(d.str());
    FAIL() << "ambiguous directory accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("law_topk_ids.npy.gz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("intent_topk_ids.npy"), std::string::npos) << e.what();
  }
  TempDir empty;
  EXPECT_THROW(resolve_trace(empty.str()), InputError);
  EXPECT_THROW(resolve_trace(d / "nope_topk_ids.npy"), InputError);
  EXPECT_THROW(resolve_trace(d / "law_seq_offsets.npy"), InputError);  // not an ids file
}

TEST(TraceIo, MissingOffsetsMeansOneSequence) {
  TempDir d;
  write_bytes(d / "topk_ids.npy", npy_bytes(npy_dict("|u1", kShape), raw_bytes(ref_ids<uint8_t>())));
  Trace tr = read_trace({d.str()}, kE);
  EXPECT_EQ(tr.seq_offsets, (std::vector<int64_t>{0, kT}));
}

TEST(TraceIo, StreamingEqualsWholeRead) {
  TempDir d;
  std::string ids = write_ref<uint16_t>(d, "<u2", "", true);
  Trace whole = read_trace({ids}, kE);
  for (int64_t chunk_tokens : {1, 7, 1000}) {
    TraceReader reader({ids}, kE);
    EXPECT_EQ(reader.shape().tokens, kT);
    EXPECT_EQ(reader.shape().seqs, 4);
    // Expected: the global sequence of every token.
    std::vector<int64_t> want_seq;
    for (size_t s = 0; s + 1 < kOffsets.size(); ++s)
      for (int64_t t = kOffsets[s]; t < kOffsets[s + 1]; ++t) want_seq.push_back(int64_t(s));
    for (int pass = 0; pass < 2; ++pass) {  // the second pass checks rewind()
      std::vector<expert_t> all;
      std::vector<int64_t> seq_of;  // rebuilt from the chunks' first_seq and seq_offsets
      Trace chunk;
      int64_t expect_first = 0;
      while (reader.next(chunk, chunk_tokens)) {
        ASSERT_EQ(chunk.first_token, expect_first);
        ASSERT_LE(chunk.num_tokens(), chunk_tokens);
        ASSERT_EQ(chunk.seq_offsets.front(), 0);
        ASSERT_EQ(chunk.seq_offsets.back(), chunk.num_tokens());
        for (int64_t s = 0; s < chunk.num_seqs(); ++s)
          for (int64_t t = chunk.seq_offsets[s]; t < chunk.seq_offsets[s + 1]; ++t)
            seq_of.push_back(chunk.first_seq + s);
        all.insert(all.end(), chunk.ids.begin(), chunk.ids.end());
        expect_first += chunk.num_tokens();
      }
      EXPECT_EQ(all, whole.ids) << chunk_tokens;
      EXPECT_EQ(seq_of, want_seq) << chunk_tokens;
      reader.rewind();
    }
  }
}

TEST(TraceIo, ConcatenatesTraces) {
  TempDir a, b;
  std::string ia = write_ref<uint8_t>(a, "|u1", "", false);
  std::string ib = write_ref<int32_t>(b, "<i4", "", true);
  TraceReader reader({ia, ib}, kE);
  EXPECT_EQ(reader.shape().tokens, 2 * kT);
  EXPECT_EQ(reader.shape().seqs, 8);
  Trace tr = read_trace({ia, ib}, kE);
  ASSERT_EQ(tr.num_tokens(), 2 * kT);
  EXPECT_EQ(tr.seq_offsets, (std::vector<int64_t>{0, 5, 6, 15, 23, 28, 29, 38, 46}));
  for (int l = 0; l < kL; ++l) EXPECT_EQ(tr.topk(kT + 4, l)[1], ref_id(4, l, 1));
  // A chunk spanning both traces starts in the last sequence of the first.
  Trace chunk;
  ASSERT_TRUE(reader.next(chunk, 20));
  ASSERT_TRUE(reader.next(chunk, 20));
  EXPECT_EQ(chunk.first_token, 20);
  EXPECT_EQ(chunk.first_seq, 3);
  EXPECT_EQ(chunk.seq_offsets, (std::vector<int64_t>{0, 3, 8, 9, 18, 20}));
}

TEST(TraceIo, ConcatenationRejectsShapeMismatchNamingTheFile) {
  TempDir a, b;
  std::string ia = write_ref<uint8_t>(a, "|u1", "", false);
  std::string ib = b / "topk_ids.npy";
  write_bytes(ib, npy_bytes(npy_dict("|u1", "(4, 3, 3)"), std::string(36, '\0')));
  try {
    TraceReader reader({ia, ib}, kE);
    FAIL() << "mismatched shapes accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(ib), std::string::npos) << e.what();
  }
}

TEST(TraceIo, WriteReadRoundTrip) {
  for (bool gz : {false, true}) {
    Trace tr;
    tr.num_layers = 2;
    tr.top_k = 3;
    tr.num_experts = 300;  // forces uint16 ids
    for (int i = 0; i < 2 * 3 * 11; ++i) {
      tr.ids.push_back(expert_t((i * 37) % 300));
      tr.weights.push_back(float(i) * 0.25f);
    }
    tr.seq_offsets = {0, 4, 11};
    TempDir d;
    write_trace(tr, d / "out", gz);
    EXPECT_TRUE(std::filesystem::exists(d / (gz ? "out/topk_ids.npy.gz" : "out/topk_ids.npy")));
    Trace back = read_trace({d / "out"}, 300, true);
    EXPECT_EQ(back.ids, tr.ids);
    EXPECT_EQ(back.weights, tr.weights);
    EXPECT_EQ(back.seq_offsets, tr.seq_offsets);
    EXPECT_EQ(back.num_experts, 300);
    // Rewriting without weights removes the old weights file; no temp files remain.
    tr.weights.clear();
    write_trace(tr, d / "out", gz);
    EXPECT_TRUE(resolve_trace(d / "out").weights.empty());
    for (const auto& e : std::filesystem::directory_iterator(d / "out"))
      EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST(TraceIo, NumExpertsZeroReportsMaxIdPlusOne) {
  TempDir d;
  Trace tr = read_trace({write_ref<uint8_t>(d, "|u1", "", false)}, 0);
  EXPECT_EQ(tr.num_experts, kE);
}

TEST(TraceIo, RealTracesLoadWithTheirShapes) {
  const std::string root = std::string(GRACE_SHARED_DATA) + "/traces";
  if (!std::filesystem::is_directory(root)) GTEST_SKIP() << "no shared data at " << root;
  {
    TraceFiles f = resolve_trace(root + "/deepseek-v2-lite-esft/law_topk_ids.npy.gz");
    EXPECT_EQ(f.offsets, root + "/deepseek-v2-lite-esft/law_seq_offsets.npy");
    EXPECT_EQ(f.weights, root + "/deepseek-v2-lite-esft/law_topk_weights_x1e4.npy.gz");
    Trace tr = read_trace({f.ids}, 64, true);
    EXPECT_EQ(tr.num_tokens(), 8327);
    EXPECT_EQ(tr.num_layers, 26);
    EXPECT_EQ(tr.top_k, 6);
    EXPECT_EQ(tr.num_seqs(), 33);
    // DeepSeek weights are probabilities over 64 experts: descending, each in (0, 1).
    for (int64_t t = 0; t < tr.num_tokens(); t += 501) {
      const float* w = tr.topk_weights(t, 3);
      EXPECT_GT(w[0], 0.0f);
      EXPECT_LE(w[0], 1.0f);
      EXPECT_GE(w[0], w[5]);
    }
  }
  {
    TraceReader reader({root + "/gpt-oss-20b-mmlu"}, 32, true);
    EXPECT_EQ(reader.shape().tokens, 125771);
    EXPECT_EQ(reader.shape().seqs, 443);
    EXPECT_EQ(reader.shape().num_layers, 24);
    EXPECT_EQ(reader.shape().top_k, 4);
    Trace chunk;
    ASSERT_TRUE(reader.next(chunk, 1000));  // GPT-OSS probabilities over the 4 chosen sum to 1
    float sum = 0;
    for (int j = 0; j < 4; ++j) sum += chunk.topk_weights(10, 0)[j];
    EXPECT_NEAR(sum, 1.0f, 0.01f);
  }
}

}  // namespace
}  // namespace grace
