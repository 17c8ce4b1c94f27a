// grace_cuda_bench --permute: route + permute alone (PairBuckets::route_build_scatter, the
// benchmark's "route+permute"), DeepSeek-V2-Lite shape, real routing where --data has it, with
// the tiled path's options (PairBuckets::TiledOptions) side by side and three timings each:
//   idle    the main table's method: CUDA events around one call on an idle stream (the host's
//           launch time is inside the interval: the start event fires before the first launch)
//   queued  the same call enqueued behind a 256 MB device copy, so the launches are queued when
//           the start event fires (device time only)
//   batch   20 calls back to back between two events, divided by 20
// and the same bytes moved by one cudaMemcpyAsync (idle / queued), for the ceiling at this size.
// Every option's order, positions, offsets, rows and slots are checked bit for bit against the
// first one. --permute T: also a per-phase timeline (%globaltimer, one queued call) at T tokens.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "grace/cuda/device.h"
#include "grace/cuda/permute.h"
#include "grace/cuda/routing.h"
#include "grace/routing_table.h"
#include "grace/topology.h"
#include "moe_bench_data.h"

namespace grace::bench {

using namespace grace::cuda;

namespace {

struct Opt {
  const char* name;
  PairBuckets::TiledOptions o;
};

float queued_ms(int reps, DeviceBuffer<unsigned char>& fa, DeviceBuffer<unsigned char>& fb,
                const std::function<void()>& body) {
  Timer t;
  body();
  std::vector<float> v;
  for (int r = 0; r < reps; ++r) {
    copy_device(fb.get(), fa.get(), fa.size());  // keeps the GPU busy while the host enqueues
    t.start();
    body();
    v.push_back(t.stop());
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

float batch_ms(const std::function<void()>& body) {
  Timer t;
  body();
  std::vector<float> v;
  for (int r = 0; r < 5; ++r) {
    t.start();
    for (int i = 0; i < 20; ++i) body();
    v.push_back(t.stop() / 20);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class T>
std::vector<T> down(const T* p, size_t n) {
  std::vector<T> v(n);
  copy_to_host(v.data(), p, n * sizeof(T));
  return v;
}

}  // namespace

int run_permute(const std::string& data_dir, int64_t timeline_tokens, int reps) {
  const double copy_GBps = measure_copy_GBps();
  std::printf("D2D copy: %.1f GB/s (read+write)\n", copy_GBps);
  const int64_t H = 2048;
  const int E = 64, k = 6;
  DeviceBuffer<unsigned char> fa(size_t(256) << 20), fb(size_t(256) << 20);
  fill_bytes(fa.get(), 1, fa.size());
  std::vector<Opt> opts;
  auto add = [&](const char* n, int group, bool decisions, bool sub, bool prefetch_rows) {
    PairBuckets::TiledOptions o;
    o.hist_group = group;
    o.decisions = decisions;
    o.sub_counts = sub;
    o.prefetch_rows = prefetch_rows;
    opts.push_back({n, o});
  };
  add("g4 none", 4, false, false, false);  // without tar's decisions and launch 1's per-copy-tile counts
  add("g4 dec", 4, true, false, false);    // launch 2 counts its group's earlier copy tiles again
  add("g4 sub", 4, false, true, false);    // every decision whole
  add("g4 prefetch", 4, true, true, true);  // the token rows prefetched into L2 after the sums
  add("g8", 8, true, true, false);
  opts.push_back({"default", PairBuckets::TiledOptions{}});
  std::printf("\nroute + permute (ms; %% of copy = minimal bytes / time / D2D copy), DeepSeek-V2-Lite shape\n");
  std::printf("%6s %-16s | %7s %5s | %7s %5s | %7s %5s | %7s %7s | %s\n", "tokens", "option", "idle", "%", "queued",
              "%", "batch", "%", "rb idle", "rb que", "same");
  for (const int64_t T : {int64_t(1024), int64_t(4096), int64_t(16384)}) {
    std::vector<int32_t> ids;
    std::vector<float> gw;
    const bool real = load_trace(data_dir, T, k, ids, gw);
    if (!real) synthetic(T, E, k, 1000 + T, ids, gw);
    const int64_t P = T * k;
    DeviceBuffer<bf16_t> x(T * H), xs(P * H);
    fill_uniform_bf16(x.get(), T * H, 3 + T, 1.0f);
    DeviceBuffer<int32_t> d_ids, d_slot(P);
    d_ids.upload(ids.data(), ids.size());
    const RoutingTable table(replicated_placement(E, ids), parse_topology("2x4"));
    const DeviceRoutingTable dt(table);
    const DeviceRouteBatch rb{0, T, k, d_ids.get(), nullptr, 0, 0};
    const double bytes = 2.0 * T * H + 2.0 * P * H + 8.0 * P;
    auto pct = [&](float ms) { return 100.0 * bytes / (ms * 1e-3) / 1e9 / copy_GBps; };
    {  // the same bytes as one copy (half read, half written)
      DeviceBuffer<unsigned char> ca(size_t(bytes / 2)), cb(size_t(bytes / 2));
      fill_bytes(ca.get(), 2, ca.size());
      auto body = [&] { copy_device(cb.get(), ca.get(), ca.size()); };
      const float i = median_ms(reps, body), q = queued_ms(reps, fa, fb, body), b = batch_ms(body);
      std::printf("%6lld %-16s | %7.4f %5.1f | %7.4f %5.1f | %7.4f %5.1f |\n", (long long)T, "memcpy same bytes", i,
                  pct(i), q, pct(q), b, pct(b));
      auto tiny = [&] { copy_device(cb.get(), ca.get(), 16); };
      std::printf("%6lld %-16s | %7.4f       | %7.4f       | %7.4f       |\n", (long long)T, "memcpy 16 B",
                  median_ms(reps, tiny), queued_ms(reps, fa, fb, tiny), batch_ms(tiny));
    }
    {  // the row copy alone (scatter_rows on positions bucketed before): same bytes but the ids / slots
      PairBuckets pb;
      pb.route_build_scatter(dt, DeviceRouter::kTar, 7, rb, nullptr, d_slot.get(), x.get(), H, nullptr);
      auto body = [&] { scatter_rows(x.get(), pb.position(), pb.offsets() + dt.num_slots(0), T, k, H, xs.get()); };
      const float i = median_ms(reps, body), q = queued_ms(reps, fa, fb, body), b = batch_ms(body);
      std::printf("%6lld %-16s | %7.4f %5.1f | %7.4f %5.1f | %7.4f %5.1f |\n", (long long)T, "scatter_rows only", i,
                  pct(i), q, pct(q), b, pct(b));
    }
    std::vector<int32_t> r_order, r_pos, r_off, r_slot;
    std::vector<bf16_t> r_rows;
    for (size_t v = 0; v < opts.size(); ++v) {
      PairBuckets pb;
      pb.set_tiled_options(opts[v].o);
      fill_bytes(xs.get(), 0xff, P * H * 2);
      fill_bytes(d_slot.get(), 0xff, P * 4);
      pb.route_build_scatter(dt, DeviceRouter::kTar, 7, rb, nullptr, d_slot.get(), x.get(), H, xs.get());
      synchronize();
      const std::vector<int32_t> o = down(pb.order(), P), q = down(pb.position(), P), f = down(pb.offsets(), dt.num_slots(0) + 1),
                                 s = down(d_slot.get(), P);
      const std::vector<bf16_t> rows = down(xs.get(), P * H);
      if (v == 0) {
        r_order = o, r_pos = q, r_off = f, r_slot = s, r_rows = rows;
      }
      const bool same = o == r_order && q == r_pos && f == r_off && s == r_slot && rows == r_rows;
      auto body = [&] { pb.route_build_scatter(dt, DeviceRouter::kTar, 7, rb, nullptr, d_slot.get(), x.get(), H, xs.get()); };
      auto body_rb = [&] { pb.route_build_scatter(dt, DeviceRouter::kTar, 7, rb, nullptr, d_slot.get(), x.get(), H, nullptr); };
      const float i = median_ms(reps, body), q2 = queued_ms(reps, fa, fb, body), b = batch_ms(body);
      const float ri = median_ms(reps, body_rb), rq = queued_ms(reps, fa, fb, body_rb);
      std::printf("%6lld %-16s | %7.4f %5.1f | %7.4f %5.1f | %7.4f %5.1f | %7.4f %7.4f | %d\n", (long long)T,
                  opts[v].name, i, pct(i), q2, pct(q2), b, pct(b), ri, rq, int(same));
      if (T == timeline_tokens) {  // one queued call with stamps: where the time goes
        const int64_t tt = std::max<int64_t>(4, (T + 255) / 256), tiles = (T + tt - 1) / tt;
        const int g = opts[v].o.hist_group > 0 ? opts[v].o.hist_group : 4;
        const int64_t nh = (tiles + g - 1) / g;
        DeviceBuffer<unsigned long long> st(2 * nh + 5 * tiles);
        fill_bytes(st.get(), 0, st.size() * 8);
        PairBuckets::TiledOptions o2 = opts[v].o;
        o2.stamps = st.get();
        pb.set_tiled_options(o2);
        copy_device(fb.get(), fa.get(), fa.size());
        body();
        synchronize();
        pb.set_tiled_options(opts[v].o);
        const std::vector<unsigned long long> s2 = down(st.get(), st.size());
        unsigned long long t0 = ~0ull;
        for (int64_t h = 0; h < nh; ++h) t0 = std::min(t0, s2[2 * h]);
        auto row = [&](const char* what, int64_t first, int64_t count, int64_t step) {
          std::vector<double> us;
          for (int64_t j = 0; j < count; ++j) us.push_back(double(s2[first + j * step] - t0) * 1e-3);
          std::sort(us.begin(), us.end());
          std::printf("    %-28s min %6.2f  median %6.2f  max %6.2f us\n", what, us.front(), us[us.size() / 2], us.back());
        };
        std::printf("  timeline (us after launch 1's first block passed its wait; %lld hist blocks, %lld copy blocks):\n",
                    (long long)nh, (long long)tiles);
        row("launch 1 start", 0, nh, 2);
        row("launch 1 end", 1, nh, 2);
        const char* ph[] = {"launch 2 start", "launch 2 keys counted", "launch 2 past the wait", "launch 2 ranked",
                            "launch 2 end (rows copied)"};
        for (int j = 0; j < 5; ++j) row(ph[j], 2 * nh + j, tiles, 5);
      }
    }
  }
  return 0;
}

}  // namespace grace::bench
