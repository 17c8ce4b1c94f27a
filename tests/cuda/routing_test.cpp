// The routing kernel against the CPU routers: identical decisions, pair by pair.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "cuda/gpu_test_util.h"
#include "grace/cuda/permute.h"
#include "grace/cuda/routing.h"
#include "grace/error.h"
#include "grace/placement.h"
#include "grace/router.h"
#include "grace/routing_table.h"
#include "grace/topology.h"

namespace grace::cuda {
namespace {

// 2 nodes x 2 GPUs, 16 experts, 2 layers; primaries contiguous, replicas on several tiers.
Placement test_placement() {
  Placement p;
  p.model = "test";
  p.policy = "test";
  p.num_layers = 2;
  p.num_experts = 16;
  p.nodes = 2;
  p.gpus_per_node = 2;
  p.slots_per_gpu = 8;
  for (int l = 0; l < 2; ++l) {
    LayerPlacement lp;
    for (int e = 0; e < 16; ++e) {
      ExpertPlacement ep;
      const int g = (e / 4 + l) % 4;
      ep.instances.push_back({g, 1.0});
      if (e % 4 == 0) ep.instances = {{g, 0.6}, {(g + 2) % 4, 0.4}};             // other node
      if (e % 4 == 1) ep.instances = {{g, 0.5}, {(g + 1) % 4, 0.3}, {(g + 2) % 4, 0.2}};
      if (e == 6) ep.instances = {{g, 0.25}, {(g + 1) % 4, 0.25}, {(g + 2) % 4, 0.25}, {(g + 3) % 4, 0.25}};
      lp.experts.push_back(ep);
    }
    p.layers.push_back(lp);
  }
  return p;
}

// The GPU router table uses the registry's names (no GPU needed).
TEST(CudaRouting, DeviceRoutersAreRegisteredRouters) {
  const auto cpu = router_names();
  const auto gpu = device_router_names();
  ASSERT_EQ(gpu.size(), 2u);
  for (const auto& name : gpu) EXPECT_NE(std::find(cpu.begin(), cpu.end(), name), cpu.end()) << name;
  EXPECT_EQ(parse_device_router("primary"), DeviceRouter::kPrimary);
  EXPECT_EQ(parse_device_router("tar"), DeviceRouter::kTar);
  EXPECT_THROW(parse_device_router("wrr"), InputError);     // registered, no kernel
  EXPECT_THROW(parse_device_router("no-such"), InputError);  // not registered
}

TEST(CudaRouting, MatchesCpuRoutersExactly) {
  GRACE_REQUIRE_GPU();
  const Placement p = test_placement();
  const Topology topo = parse_topology("2x2");
  const RoutingTable table(p, topo);
  const DeviceRoutingTable dtable(table);
  const int k = 4;
  const int64_t T = 5000;
  std::mt19937_64 rng(7);
  std::vector<expert_t> ids(T * k);
  std::vector<int32_t> ids32(T * k), src(T);
  std::vector<int64_t> tok(T);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int> e(16);
    for (int i = 0; i < 16; ++i) e[i] = i;
    std::shuffle(e.begin(), e.end(), rng);
    for (int j = 0; j < k; ++j) ids[t * k + j] = expert_t(e[j]), ids32[t * k + j] = e[j];
    src[t] = int(rng() % 4);
    tok[t] = 1000 + t;
  }
  DeviceBuffer<int32_t> d_ids, d_src, d_dest(T * k), d_slot(T * k);
  d_ids.upload(ids32.data(), ids32.size());
  d_src.upload(src.data(), src.size());
  for (const auto& name : device_router_names()) {
    for (int layer = 0; layer < 2; ++layer) {
      const uint64_t seed = 42;
      auto router = make_router(name, p, topo, seed);
      RouteBatch b{layer, T, k, ids.data(), k, src.data(), tok.data()};
      std::vector<int> want(T * k);
      router->route(b, want.data());
      DeviceRouteBatch db{layer, T, k, d_ids.get(), d_src.get(), 0, 1000};
      fill_bytes(d_dest.get(), 0xff, T * k * 4);
      route_on_device(dtable, parse_device_router(name), seed, db, d_dest.get(), d_slot.get());
      std::vector<int32_t> got(T * k), slot(T * k);
      d_dest.download(got.data(), got.size());
      d_slot.download(slot.data(), slot.size());
      int mismatches = 0, off_src = 0;
      for (int64_t i = 0; i < T * k; ++i) {
        mismatches += got[i] != want[i];
        off_src += got[i] != src[i / k];
        const int le = table.le(layer, ids32[i]);
        const int g = got[i];
        ASSERT_GE(table.slot_of(le, g), 0) << "GPU " << g << " does not host expert " << ids32[i];
        ASSERT_EQ(slot[i], table.gpu_slot_offset(layer)[g] + table.slot_of(le, g)) << "pair " << i;
      }
      EXPECT_EQ(mismatches, 0) << name << " layer " << layer;
      EXPECT_GT(off_src, 0);  // the batch does exercise remote choices
    }
  }
}

// route_build_scatter (routing inside the bucket passes) against route_on_device then
// build_scatter: dest GPUs, flat slots, order, positions, offsets and rows bit for bit, both
// routers, token-index and token-base hashing, null outputs, sizes on the tiled path and on the
// fallbacks (counting sort below 8,193 pairs, radix past 1,024 pairs per tile), the table in
// shared memory (default) or device memory.
TEST(CudaRouting, RouteBuildScatterMatchesRouteThenBuildScatter) {
  GRACE_REQUIRE_GPU();
  const Placement p = test_placement();
  const Topology topo = parse_topology("2x2");
  const RoutingTable table(p, topo);
  const DeviceRoutingTable dtable(table);
  const int64_t H = 16;
  std::mt19937_64 rng(11);
  for (const int64_t T : {int64_t(3), int64_t(1500), int64_t(2049), int64_t(4096), int64_t(9000), int64_t(70001)}) {
    for (const int k : {4, 6}) {
      const int64_t n = T * k;
      std::vector<int32_t> ids(n), src(T);
      std::vector<int64_t> tok(T);
      for (int64_t t = 0; t < T; ++t) {
        std::vector<int> e(16);
        for (int i = 0; i < 16; ++i) e[i] = i;
        std::shuffle(e.begin(), e.end(), rng);
        for (int j = 0; j < k; ++j) ids[t * k + j] = e[j];
        src[t] = int(rng() % 4);
        tok[t] = int64_t(rng() % 100000);
      }
      const std::vector<bf16_t> x = testing::random_bf16(T * H, 1.0f, rng);
      DeviceBuffer<int32_t> d_ids, d_src;
      DeviceBuffer<int64_t> d_tok;
      DeviceBuffer<bf16_t> d_x, want_rows(n * H), got_rows(n * H);
      DeviceBuffer<int32_t> want_dest(n), want_slot(n), got_dest(n), got_slot(n);
      d_ids.upload(ids.data(), ids.size());
      d_src.upload(src.data(), src.size());
      d_tok.upload(tok.data(), tok.size());
      d_x.upload(x.data(), x.size());
      for (const auto& name : device_router_names()) {
        for (int layer = 0; layer < 2; ++layer) {
          for (int srcs = 0; srcs < 2; ++srcs) {  // tokens on several GPUs, or all on one
            const DeviceRouter router = parse_device_router(name);
            DeviceRouteBatch db{layer, T, k, d_ids.get(), d_src.get(), 0, 0, layer == 0 ? d_tok.get() : nullptr};
            if (layer == 1) db.token_base = 777;
            if (srcs == 1) {
              db.src_gpu = nullptr;
              db.src_gpu_all = int(T % 4);
            }
            const int B = dtable.num_slots(layer);
            PairBuckets ref, pb;
            route_on_device(dtable, router, 5, db, want_dest.get(), want_slot.get());
            fill_bytes(want_rows.get(), 0xff, n * H * 2);
            ref.build_scatter(want_slot.get(), T, k, B, d_x.get(), H, want_rows.get());
            // Default options (the layer's part of the table and tar's decisions in shared memory,
            // ids loaded 4 at a time, launch 1 counting each copy tile apart), the whole decision
            // from shared memory with ids loaded one at a time and launch 2 counting its group's
            // earlier copy tiles itself, and the table read from device memory.
            for (int variant = 0; variant < 3; ++variant) {
              PairBuckets::TiledOptions opt;
              opt.decisions = variant == 0;
              opt.sub_counts = variant != 1;
              opt.shared_table = variant != 2;
              pb.set_tiled_options(opt);
              const std::string what = name + " layer " + std::to_string(layer) + " T " + std::to_string(T) + " k " +
                                       std::to_string(k) + " srcs " + std::to_string(srcs) + " variant " +
                                       std::to_string(variant);
              for (int rep = 0; rep < 2; ++rep) {  // with and without the router's outputs; scratch reused
                fill_bytes(got_rows.get(), 0xff, n * H * 2);
                fill_bytes(got_dest.get(), 0xff, n * 4);
                fill_bytes(got_slot.get(), 0xff, n * 4);
                pb.route_build_scatter(dtable, router, 5, db, rep == 0 ? got_dest.get() : nullptr,
                                       rep == 0 ? got_slot.get() : nullptr, d_x.get(), H, got_rows.get());
                ASSERT_EQ(pb.host_offsets(), ref.host_offsets()) << what;
                std::vector<int32_t> a(n), b(n);
                copy_to_host(a.data(), ref.order(), n * 4);
                copy_to_host(b.data(), pb.order(), n * 4);
                ASSERT_EQ(b, a) << what;
                copy_to_host(a.data(), ref.position(), n * 4);
                copy_to_host(b.data(), pb.position(), n * 4);
                ASSERT_EQ(b, a) << what;
                std::vector<bf16_t> r1(n * H), r2(n * H);
                copy_to_host(r1.data(), want_rows.get(), n * H * 2);
                copy_to_host(r2.data(), got_rows.get(), n * H * 2);
                ASSERT_EQ(r2, r1) << what;
                if (rep == 0) {
                  copy_to_host(a.data(), want_dest.get(), n * 4);
                  copy_to_host(b.data(), got_dest.get(), n * 4);
                  ASSERT_EQ(b, a) << what;
                  copy_to_host(a.data(), want_slot.get(), n * 4);
                  copy_to_host(b.data(), got_slot.get(), n * 4);
                  ASSERT_EQ(b, a) << what;
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace grace::cuda
