// The wgmma GEMMs' 192-token tiles (WgmmaTile, sixth round) against the float CPU reference,
// the 128-token tiles and cuBLAS. Skips without a compute-capability 9.0 GPU or sm_90a code.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "cuda/wgmma_test_util.h"
#include "grace/cuda/expert_ffn.h"

namespace grace::cuda {
namespace {

using testing::download_float;

struct RestoreKnobs {
  WgmmaSchedule s = wgmma_schedule();
  WgmmaTile t = wgmma_tile();
  WgmmaDownStart d = wgmma_down_start();
  WgmmaEpilogue o = wgmma_epilogue();
  ~RestoreKnobs() { set_wgmma_schedule(s), set_wgmma_tile(t), set_wgmma_down_start(d), set_wgmma_epilogue(o); }
};

const char* tile_name(WgmmaTile t) {
  return t == WgmmaTile::k128 ? "128" : t == WgmmaTile::k192 ? "192" : t == WgmmaTile::k192Up ? "192 gate/up" : "192 down";
}

// Every width class of a 192-token tile's last, partial part (1..32, ..64, ..96, ..128, ..160,
// ..192 rows), experts over one, two and three tiles, empty experts, rows past the offsets
// (must stay NaN-poisoned), a launch with no work and repeated launches (the dynamic schedule's
// counters must come back to zero), in the three schedules, both GEMMs wide or one of them, the
// down GEMM after the whole gate/up grid or per expert (the expert chain's counters, too, must
// come back to zero: the repeats would hang or read stale rows otherwise), each with the direct
// and the staged epilogue (the latter changes only 192-token tiles).
TEST(CudaWgmmaTile, WideTilesMatchReferenceAndRepeat) {
  const int64_t H = 512, I = 256;
  const std::vector<int32_t> sizes = {1, 0, 31, 33, 64, 65, 97, 128, 129, 160, 161, 191, 192, 193, 385, 0, 200, 7, 300};
  const int E = int(sizes.size());
  GRACE_REQUIRE_WGMMA(H, I, E);
  RestoreKnobs restore;
  std::vector<int32_t> off(E + 1, 0), none(E + 1, 0);
  for (int e = 0; e < E; ++e) off[e + 1] = off[e] + sizes[e];
  testing::HostFfnCase c(H, I, off, 37, 31);
  const int64_t rows = c.rows, capacity = c.capacity;
  const std::vector<float>& want = c.want;
  DeviceBuffer<bf16_t>&d_x = c.d_x, &d_w13 = c.d_w13, &d_w2 = c.d_w2;
  DeviceBuffer<int32_t>& d_off = c.d_off;
  DeviceBuffer<bf16_t> d_y(capacity * H);
  DeviceBuffer<int32_t> d_none;
  d_none.upload(none.data(), none.size());

  const WgmmaSchedule scheds[3] = {WgmmaSchedule::kDynamic, WgmmaSchedule::kStatic, WgmmaSchedule::kDynamic4};
  const WgmmaTile tiles[4] = {WgmmaTile::k128, WgmmaTile::k192, WgmmaTile::k192Up, WgmmaTile::k192Down};
  for (WgmmaSchedule sched : scheds) {
    set_wgmma_schedule(sched);
    std::vector<float> narrow;
    for (int variant = 0; variant < 16; ++variant) {
      const WgmmaTile tile = tiles[(variant / 2) % 4];
      set_wgmma_tile(tile);
      set_wgmma_down_start(variant % 2 ? WgmmaDownStart::kPerExpert : WgmmaDownStart::kAfterGateUp);
      set_wgmma_epilogue(variant < 8 ? WgmmaEpilogue::kDirect : WgmmaEpilogue::kStaged);
      const std::string what = std::string("tile ") + tile_name(tile) + ", schedule " + std::to_string(int(sched)) +
                               (variant % 2 ? ", down per expert" : "") + (variant < 8 ? "" : ", staged epilogue");
      ExpertFfn ffn(H, I, GemmPath::kWgmma);
      std::vector<float> first;
      for (int rep = 0; rep < 3; ++rep) {
        if (rep == 1) ffn.run_device(d_x.get(), capacity, d_none.get(), E, d_w13.get(), d_w2.get(), d_y.get());
        fill_bytes(d_y.get(), 0xff, capacity * H * 2);  // NaN poison
        ffn.run_device(d_x.get(), capacity, d_off.get(), E, d_w13.get(), d_w2.get(), d_y.get());
        synchronize();
        std::vector<bf16_t> yb(capacity * H);
        d_y.download(yb.data(), yb.size());
        for (int64_t i = rows * H; i < capacity * H; ++i) ASSERT_EQ(yb[i], 0xffff) << what << ": row past the offsets written";
        yb.resize(rows * H);
        const std::vector<float> got = testing::to_float(yb);
        EXPECT_LT(testing::rel_error(got, want), 1e-2) << what << ", call " << rep;
        if (rep == 0) first = got;
        else EXPECT_EQ(got, first) << what << ": call " << rep << " differs from the first";
      }
      // Same products as the 128-token tiles (the same K order per output element).
      if (variant == 0) narrow = first;
      else EXPECT_LT(testing::rel_error(first, narrow), 1e-3) << what << " against the 128-token tiles";
    }
  }
}

// The DeepSeek-V2-Lite expert shape, skewed routing over 64 experts: 192-token tiles against
// cuBLAS grouped and against the 128-token tiles.
TEST(CudaWgmmaTile, DeepSeekShapeMatchesCublas) {
  const int E = 64;
  const int64_t H = 2048, I = 1408;
  GRACE_REQUIRE_WGMMA(H, I, E);
  RestoreKnobs restore;
  set_wgmma_schedule(WgmmaSchedule::kDynamic);
  std::mt19937_64 rng(11);
  std::vector<int32_t> off(E + 1, 0);
  for (int e = 0; e < E; ++e) off[e + 1] = off[e] + int32_t(rng() % 5 == 0 ? 0 : rng() % 700);
  testing::DeviceFfnCase c(H, I, off, 41);
  const int64_t rows = c.rows;
  DeviceBuffer<bf16_t> y(rows * H);
  std::vector<float> narrow;
  for (WgmmaTile tile : {WgmmaTile::k128, WgmmaTile::k192}) {
    set_wgmma_tile(tile);
    ExpertFfn ffn(H, I, GemmPath::kWgmma);
    fill_bytes(y.get(), 0xff, rows * H * 2);
    ffn.run(c.x.get(), off.data(), E, c.w13.get(), c.w2.get(), y.get());
    const std::vector<float> got = download_float(y, rows * H);
    EXPECT_LT(testing::rel_error(got, c.want), 1e-2) << "tile " << tile_name(tile);
    if (tile == WgmmaTile::k128) narrow = got;
    else EXPECT_LT(testing::rel_error(got, narrow), 1e-3) << "192 against 128";
  }
}

// The down GEMM started per expert (the expert chain) against the down GEMM after the whole
// gate/up grid: bit for bit, launch after launch, at the DeepSeek shape (64 experts, skewed, so
// the down GEMM's first items overlap the gate/up GEMM's last ones), with both tile widths and
// one GEMM wide, and against cuBLAS; and the staged epilogue bit for bit equal to the direct one.
TEST(CudaWgmmaTile, PerExpertDownStartIsBitIdentical) {
  const int E = 64;
  const int64_t H = 2048, I = 1408;
  GRACE_REQUIRE_WGMMA(H, I, E);
  RestoreKnobs restore;
  set_wgmma_schedule(WgmmaSchedule::kDynamic);
  std::mt19937_64 rng(13);
  std::vector<int32_t> off(E + 1, 0);
  for (int e = 0; e < E; ++e) off[e + 1] = off[e] + int32_t(rng() % 7 == 0 ? 0 : rng() % (e < 8 ? 1500 : 500));
  testing::DeviceFfnCase c(H, I, off, 51);
  const int64_t rows = c.rows;
  DeviceBuffer<bf16_t>&x = c.x, &w13 = c.w13, &w2 = c.w2;
  DeviceBuffer<int32_t>& d_off = c.d_off;
  const std::vector<float>& want = c.want;
  DeviceBuffer<bf16_t> y(rows * H);
  for (WgmmaTile tile : {WgmmaTile::k128, WgmmaTile::k192, WgmmaTile::k192Up, WgmmaTile::k192Down}) {
    set_wgmma_tile(tile);
    ExpertFfn ffn(H, I, GemmPath::kWgmma);
    set_wgmma_down_start(WgmmaDownStart::kAfterGateUp);
    ffn.run_device(x.get(), rows, d_off.get(), E, w13.get(), w2.get(), y.get());
    const std::vector<float> base = download_float(y, rows * H);
    EXPECT_LT(testing::rel_error(base, want), 1e-2) << "tile " << tile_name(tile);
    set_wgmma_down_start(WgmmaDownStart::kPerExpert);
    for (int rep = 0; rep < 8; ++rep) {
      set_wgmma_epilogue(rep < 6 ? WgmmaEpilogue::kDirect : WgmmaEpilogue::kStaged);
      fill_bytes(y.get(), 0xff, rows * H * 2);
      ffn.run_device(x.get(), rows, d_off.get(), E, w13.get(), w2.get(), y.get());
      const std::vector<float> got = download_float(y, rows * H);
      size_t differ = 0;  // counted, not compared whole: a failure prints one number, not millions
      for (size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], &base[i], sizeof(float)) != 0;
      ASSERT_EQ(differ, 0u) << "tile " << tile_name(tile) << ", per-expert down start, call " << rep
                            << (rep < 6 ? "" : ", staged epilogue");
    }
    set_wgmma_epilogue(WgmmaEpilogue::kDirect);
  }
}

}  // namespace
}  // namespace grace::cuda
