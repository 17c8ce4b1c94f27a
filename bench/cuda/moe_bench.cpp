// GPU MoE-layer benchmark on one GPU (see docs/gpu.md for the command and the results).
//
// For each model shape (DeepSeek-V2-Lite, Qwen3-30B-A3B) and batch size it measures, with CUDA
// events, median over --reps after warm-up:
//   route+permute  tar routing on a 2x4 replicated placement + stable bucket by flat slot + row
//                  scatter: PairBuckets::route_build_scatter (the routing inside the two bucket
//                  launches); throughput = minimal bytes (x read once, one row written per pair,
//                  ids read, slots written) / time, against a measured D2D copy. Also printed:
//                  the router kernel + build_scatter (three launches)
//   ffn grouped    cublasGemmGroupedBatchedEx + SwiGLU over all experts (rows sorted by expert)
//   ffn streams    per-expert cublasGemmEx on 4 streams + SwiGLU
//   ffn wgmma      our sm_90a grouped GEMM pair (TMA + wgmma, SwiGLU fused, device offsets),
//                  checked against ffn grouped (relative error printed); "-" where it cannot run
//   dense          the same two GEMMs as one dense GEMM pair with all rows (same FLOPs)
//   layer          LocalMoeLayer::forward on the cuBLAS path (GemmPath::kCublas: bucket, scatter,
//                  grouped or per-stream FFN, combine), one host sync
//   layer wgmma    the same layer on the wgmma path (no host sync), also replayed from a CUDA graph;
//                  its gate/up GEMM reads a grouped copy made by bucket + scatter (the default) or
//                  ("other input") gathers the token rows through the bucket order itself
//   ffn gather     the wgmma FFN with that gathered input, alone, checked bit for bit against ffn wgmma
// The dense peak is one 8192^3 cuBLAS BF16 GEMM; "%pk" is the wgmma FFN's TFLOP/s against it.
// --permute T: route + permute alone, the tiled path's options side by side, three timings and a
// per-phase timeline at T tokens (permute_bench.cpp); --profile T: a few layer calls for ncu.
// Routing: the real DeepSeek-V2-Lite trace slice (layer 10) when --data holds it, else a
// skewed synthetic one. Each routing is written to --out for bench/cuda/torch_ref.py.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "grace/cuda/device.h"
#include "grace/cuda/expert_ffn.h"
#include "grace/cuda/moe_layer.h"
#include "grace/cuda/permute.h"
#include "grace/cuda/routing.h"
#include "grace/placement.h"
#include "grace/routing_table.h"
#include "grace/topology.h"
#include "moe_bench_data.h"

using namespace grace;
using namespace grace::cuda;
using grace::bench::load_trace;
using grace::bench::median_ms;
using grace::bench::replicated_placement;
using grace::bench::synthetic;

namespace {

struct Shape {
  const char* name;
  int64_t hidden, inter;
  int experts, top_k;
};

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir = ".", data_dir = ".gpu-data";
  int reps = 20;
  int64_t profile_tokens = 0;  // --profile T: only a few DeepSeek layer calls at T tokens (for ncu)
  int64_t permute_tokens = 0;  // --permute T: route + permute alone, options side by side, timeline at T
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--out") out_dir = argv[i + 1];
    else if (a == "--data") data_dir = argv[i + 1];
    else if (a == "--reps") reps = std::stoi(argv[i + 1]);
    else if (a == "--profile") profile_tokens = std::stoll(argv[i + 1]);
    else if (a == "--permute") permute_tokens = std::stoll(argv[i + 1]);
    else { std::fprintf(stderr, "unknown flag %s\n", a.c_str()); return 2; }
  }
  if (device_count() == 0) { std::fprintf(stderr, "moe_bench: no CUDA GPU\n"); return 1; }
  if (profile_tokens > 0) return grace::bench::run_profile(data_dir, profile_tokens);
  if (permute_tokens > 0) return grace::bench::run_permute(data_dir, permute_tokens, reps);

  // The ceilings the table is measured against.
  const double copy_GBps = grace::bench::measure_copy_GBps();
  std::printf("D2D copy: %.1f GB/s (read+write)\n", copy_GBps);
  const double peak_tflops = grace::bench::measure_dense_tflops();
  std::printf("dense BF16 GEMM 8192^3: %.0f TFLOP/s (cuBLAS)\n", peak_tflops);

  const Shape shapes[] = {{"deepseek-v2-lite", 2048, 1408, 64, 6}, {"qwen3-30b-a3b", 2048, 768, 128, 8}};
  const int64_t batches[] = {256, 1024, 4096, 16384};
  std::string json = "{\"copy_GBps\":" + std::to_string(copy_GBps) + ",\"dense_peak_tflops\":" +
                     std::to_string(peak_tflops) + ",\"rows\":[";
  std::printf("%-18s %6s %5s | %9s %7s %5s | %9s %9s %9s %7s %7s | %9s %s\n", "model", "tokens", "src",
              "rt+perm", "GB/s", "%bw", "ffn grp", "ffn strm", "dense", "TF grp", "TF dns", "layer", "(ms)");
  bool first = true;
  std::string summary, tiles;
  for (const Shape& s : shapes) {
    const int64_t H = s.hidden, I = s.inter;
    const int E = s.experts, k = s.top_k;
    DeviceBuffer<bf16_t> w13(size_t(E) * 2 * I * H), w2(size_t(E) * H * I);
    fill_uniform_bf16(w13.get(), int64_t(w13.size()), 1, 1.0f / std::sqrt(float(H)));
    fill_uniform_bf16(w2.get(), int64_t(w2.size()), 2, 1.0f / std::sqrt(float(I)));
    LocalMoeLayer layer(E, k, H, I, GemmPath::kCublas);
    ExpertFfn ffn_grouped(H, I, GemmPath::kGrouped), ffn_streams(H, I, GemmPath::kStreams),
        ffn_wgmma(H, I, GemmPath::kWgmma);
    LocalMoeLayer layer_wgmma(E, k, H, I, GemmPath::kWgmma);
    const bool wgmma = ffn_wgmma.uses_device_offsets(E);
    for (int64_t T : batches) {
      std::vector<int32_t> ids;
      std::vector<float> gw;
      const bool real = std::string(s.name) == "deepseek-v2-lite" && load_trace(data_dir, T, k, ids, gw);
      if (!real) synthetic(T, E, k, 1000 + T, ids, gw);
      {
        std::ofstream f(out_dir + "/routing_" + s.name + "_" + std::to_string(T) + ".bin", std::ios::binary);
        f.write(reinterpret_cast<const char*>(ids.data()), ids.size() * 4);
        f.write(reinterpret_cast<const char*>(gw.data()), gw.size() * 4);
      }
      const int64_t P = T * k;
      DeviceBuffer<bf16_t> x(T * H), xs(P * H), ys(P * H), out(T * H);
      fill_uniform_bf16(x.get(), T * H, 3 + T, 1.0f);
      DeviceBuffer<int32_t> d_ids, d_slot(P);
      DeviceBuffer<float> d_w;
      d_ids.upload(ids.data(), ids.size());
      d_w.upload(gw.data(), gw.size());

      // Route + permute on a replicated 2x4 placement (this GPU is GPU 0).
      const Placement pl = replicated_placement(E, ids);
      const RoutingTable table(pl, parse_topology("2x4"));
      const DeviceRoutingTable dt(table);
      PairBuckets pb;
      const DeviceRouteBatch rb{0, T, k, d_ids.get(), nullptr, 0, 0};
      const float rp_ms = median_ms(reps, [&] {
        pb.route_build_scatter(dt, DeviceRouter::kTar, 7, rb, nullptr, d_slot.get(), x.get(), H, xs.get());
      });
      const float rp3_ms = median_ms(reps, [&] {
        route_on_device(dt, DeviceRouter::kTar, 7, rb, nullptr, d_slot.get());
        pb.build_scatter(d_slot.get(), T, k, dt.num_slots(0), x.get(), H, xs.get());
      });
      const float rb_ms = median_ms(reps, [&] {  // route + bucket alone (what the gathered layer runs)
        pb.route_build_scatter(dt, DeviceRouter::kTar, 7, rb, nullptr, d_slot.get(), x.get(), H, nullptr);
      });
      const double rp_bytes = 2.0 * T * H + 2.0 * P * H + 8.0 * P;
      const double rp_GBps = rp_bytes / (rp_ms * 1e-3) / 1e9;

      // Expert FFN on rows sorted by expert.
      PairBuckets eb;
      eb.build(d_ids.get(), P, E);
      const std::vector<int32_t> off = eb.host_offsets();
      gather_rows(x.get(), eb.order(), k, P, H, xs.get());
      const float grp_ms = median_ms(reps, [&] { ffn_grouped.run(xs.get(), off.data(), E, w13.get(), w2.get(), ys.get()); });
      const float str_ms = median_ms(reps, [&] { ffn_streams.run(xs.get(), off.data(), E, w13.get(), w2.get(), ys.get()); });
      const float dns_ms = median_ms(reps, [&] { ffn_grouped.run_dense(xs.get(), P, w13.get(), w2.get(), ys.get()); });
      const double flops = 6.0 * H * I * P;
      // Our sm_90a kernels on device offsets, checked against the cuBLAS grouped result.
      float wg_ms = 0, layer_wg_ms = 0, layer_graph_ms = 0, wg_static_ms = 0, layer_wg_static_ms = 0;
      double wg_static_err = -1;
      MoeLayerTimes wst, wst_sc;  // the wgmma layer's stages (event-timed, one call): gathered / scatter
      float wg_gather_ms = 0, layer_wg_scatter_ms = 0, wg_silu_ms = 0, wg_d4_ms = 0, layer_wg_d4_ms = 0;
      double wg_silu_err = -1, wg_d4_err = -1;
      int gather_same = -1;
      double wg_err = -1;
      // Sixth round's variants (WgmmaTile, WgmmaDownStart, WgmmaEpilogue), back to back: 128, 192,
      // 192 gate/up, 192 down, auto (after the whole gate/up grid); 128, 192, auto with the down
      // GEMM per expert; 192 and auto per expert with the staged epilogue.
      constexpr int kVar = 10;
      const WgmmaTile var_tile[kVar] = {WgmmaTile::k128, WgmmaTile::k192, WgmmaTile::k192Up, WgmmaTile::k192Down,
                                        WgmmaTile::kAuto, WgmmaTile::k128, WgmmaTile::k192, WgmmaTile::kAuto,
                                        WgmmaTile::k192, WgmmaTile::kAuto};
      float tile_ffn_ms[kVar] = {}, tile_layer_ms[kVar] = {};
      double tile_err[kVar];
      std::fill(tile_err, tile_err + kVar, -1.0);
      auto rel_err = [](const std::vector<bf16_t>& a, const std::vector<bf16_t>& b) {  // |b - a| / |a|
        double num = 0, den = 0;
        for (size_t i = 0; i < a.size(); ++i) {
          const double r = bf16_to_float(a[i]), g = bf16_to_float(b[i]);
          num += (g - r) * (g - r);
          den += r * r;
        }
        return std::isfinite(num) ? std::sqrt(num / den) : INFINITY;
      };
      // Median of graph replays of one layer call, on a stream of its own.
      auto graph_ms = [&](LocalMoeLayer& l) {
        float ms = 0;
        cudaStream_t gs;
        cudaStreamCreateWithFlags(&gs, cudaStreamNonBlocking);
        l.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get(), gs);
        cudaStreamSynchronize(gs);
        cudaGraph_t g;
        cudaGraphExec_t ge;
        cudaStreamBeginCapture(gs, cudaStreamCaptureModeGlobal);
        l.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get(), gs);
        if (cudaStreamEndCapture(gs, &g) == cudaSuccess && cudaGraphInstantiate(&ge, g, 0) == cudaSuccess) {
          Timer gt(gs);  // events on the capture stream
          std::vector<float> v;
          for (int r = 0; r < reps + 2; ++r) {
            gt.start();
            cudaGraphLaunch(ge, gs);
            const float t = gt.stop();
            if (r >= 2) v.push_back(t);  // two warm-up replays
          }
          std::sort(v.begin(), v.end());
          ms = v[v.size() / 2];
          cudaGraphExecDestroy(ge);
          cudaGraphDestroy(g);
        } else {
          std::fprintf(stderr, "layer wgmma: graph capture failed: %s\n", cudaGetErrorString(cudaGetLastError()));
        }
        cudaStreamDestroy(gs);
        return ms;
      };
      if (wgmma) {
        DeviceBuffer<bf16_t> yw(P * H);
        ffn_grouped.run(xs.get(), off.data(), E, w13.get(), w2.get(), ys.get());
        ffn_wgmma.run_device(xs.get(), P, eb.offsets(), E, w13.get(), w2.get(), yw.get());
        synchronize();
        std::vector<bf16_t> a(P * H), b(P * H);
        ys.download(a.data(), a.size());
        yw.download(b.data(), b.size());
        wg_err = rel_err(a, b);
        wg_ms = median_ms(reps, [&] { ffn_wgmma.run_device(xs.get(), P, eb.offsets(), E, w13.get(), w2.get(), yw.get()); });
        layer_wg_ms = median_ms(reps, [&] {
          layer_wgmma.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get());
        });
        layer_wgmma.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get(), nullptr, &wst);
        layer_graph_ms = graph_ms(layer_wgmma);
        // Another schedule, same data, same run: its FFN (error against cuBLAS grouped, time) and layer.
        const WgmmaSchedule def = wgmma_schedule();
        DeviceBuffer<bf16_t> ysw(P * H);
        auto measure_schedule = [&](WgmmaSchedule sched, double& err, float& ffn_ms, float& layer_ms) {
          set_wgmma_schedule(sched);
          ffn_wgmma.run_device(xs.get(), P, eb.offsets(), E, w13.get(), w2.get(), ysw.get());
          synchronize();
          ysw.download(b.data(), b.size());
          err = rel_err(a, b);
          ffn_ms = median_ms(reps, [&] { ffn_wgmma.run_device(xs.get(), P, eb.offsets(), E, w13.get(), w2.get(), ysw.get()); });
          layer_ms = median_ms(reps, [&] {
            layer_wgmma.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get());
          });
        };
        // The third round's static schedule (every tile 128 tokens wide).
        measure_schedule(WgmmaSchedule::kStatic, wg_static_err, wg_static_ms, layer_wg_static_ms);
        // The fourth round's dynamic schedule (experts in index order, partial tiles loaded whole).
        measure_schedule(WgmmaSchedule::kDynamic4, wg_d4_err, wg_d4_ms, layer_wg_d4_ms);
        set_wgmma_schedule(def);
        // The gathered FFN on the token rows through eb's order: bit for bit the FFN on the copy.
        ffn_wgmma.run_device_gather(x.get(), eb.order(), k, P, eb.offsets(), E, w13.get(), w2.get(), ysw.get());
        synchronize();
        ysw.download(a.data(), a.size());
        yw.download(b.data(), b.size());  // the dynamic schedule's result on the grouped copy
        gather_same = std::memcmp(a.data(), b.data(), a.size() * sizeof(bf16_t)) == 0 ? 1 : 0;
        wg_gather_ms = median_ms(reps, [&] {
          ffn_wgmma.run_device_gather(x.get(), eb.order(), k, P, eb.offsets(), E, w13.get(), w2.get(), ysw.get());
        });
        // The FFN with the other silu epilogue (exp + reciprocal against tanh.approx), same run.
        const WgmmaSilu silu = wgmma_silu();
        set_wgmma_silu(silu == WgmmaSilu::kTanh ? WgmmaSilu::kExp : WgmmaSilu::kTanh);
        ffn_wgmma.run_device(xs.get(), P, eb.offsets(), E, w13.get(), w2.get(), ysw.get());
        synchronize();
        ysw.download(a.data(), a.size());
        {
          std::vector<bf16_t> c(P * H);
          ys.download(c.data(), c.size());  // cuBLAS grouped
          wg_silu_err = rel_err(c, a);
        }
        wg_silu_ms = median_ms(reps, [&] { ffn_wgmma.run_device(xs.get(), P, eb.offsets(), E, w13.get(), w2.get(), ysw.get()); });
        set_wgmma_silu(silu);
        // The layer with the scatter pass and the grouped copy (the fourth round's), same run.
        const WgmmaInput in = wgmma_input();
        set_wgmma_input(in == WgmmaInput::kGather ? WgmmaInput::kScatter : WgmmaInput::kGather);
        layer_wg_scatter_ms = median_ms(reps, [&] {
          layer_wgmma.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get());
        });
        layer_wgmma.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get(), nullptr, &wst_sc);
        set_wgmma_input(in);
        // Token-tile widths (sixth round), the default's included, back to back: FFN (error
        // against cuBLAS grouped) and layer.
        ys.download(a.data(), a.size());
        const WgmmaTile tile = wgmma_tile();
        const WgmmaDownStart down_start = wgmma_down_start();
        const WgmmaEpilogue epilogue = wgmma_epilogue();
        for (int t = 0; t < kVar; ++t) {
          set_wgmma_tile(var_tile[t]);
          set_wgmma_down_start(t < 5 ? WgmmaDownStart::kAfterGateUp : WgmmaDownStart::kPerExpert);
          set_wgmma_epilogue(t < 8 ? WgmmaEpilogue::kDirect : WgmmaEpilogue::kStaged);
          ffn_wgmma.run_device(xs.get(), P, eb.offsets(), E, w13.get(), w2.get(), ysw.get());
          synchronize();
          ysw.download(b.data(), b.size());
          tile_err[t] = rel_err(a, b);
          tile_ffn_ms[t] = median_ms(reps, [&] { ffn_wgmma.run_device(xs.get(), P, eb.offsets(), E, w13.get(), w2.get(), ysw.get()); });
          tile_layer_ms[t] = median_ms(reps, [&] {
            layer_wgmma.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get());
          });
        }
        set_wgmma_tile(tile);
        set_wgmma_down_start(down_start);
        set_wgmma_epilogue(epilogue);
        char cell[64];
        std::snprintf(cell, sizeof cell, "%-18s %6lld", s.name, (long long)T);
        std::string tl = cell;
        for (const float* v : {tile_ffn_ms, tile_layer_ms}) {
          tl += " |";
          for (int t = 0; t < kVar; ++t) std::snprintf(cell, sizeof cell, " %7.3f", v[t]), tl += cell;
        }
        double worst = 0;
        for (int t = 0; t < kVar; ++t) worst = std::max(worst, tile_err[t]);
        std::snprintf(cell, sizeof cell, " | %.2e\n", worst);
        tiles += tl + cell;
      }
      const float layer_ms = median_ms(reps, [&] {
        layer.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get());
      });
      MoeLayerTimes st;
      layer.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get(), nullptr, &st);
      synchronize();
      int64_t maxload = 0;
      for (int e = 0; e < E; ++e) maxload = std::max<int64_t>(maxload, off[e + 1] - off[e]);
      std::printf("%-18s %6lld %5s | %9.3f %7.0f %4.0f%% | %9.3f %9.3f %9.3f %7.0f %7.0f | %9.3f  (perm %.3f ffn %.3f comb %.3f) max/mean %.2f"
                  "  [router + build_scatter %.3f (%.0f%%); route + bucket only %.3f]\n",
                  s.name, (long long)T, real ? "trace" : "synth", rp_ms, rp_GBps, 100 * rp_GBps / copy_GBps,
                  grp_ms, str_ms, dns_ms, flops / (grp_ms * 1e-3) / 1e12, flops / (dns_ms * 1e-3) / 1e12,
                  layer_ms, st.permute_ms, st.ffn_ms, st.combine_ms, double(maxload) * E / double(P),
                  rp3_ms,
                  100 * rp_bytes / (rp3_ms * 1e-3) / 1e9 / copy_GBps, rb_ms);
      char line[1280];
      if (wgmma)
        std::snprintf(line, sizeof line,
                      "%-18s %6lld | %9.3f %7.0f %5.0f%% %9.2e | %9.3f %9.3f %9.3f  (perm %.3f ffn %.3f comb %.3f)"
                      "  static: ffn %.3f (%.0f TF/s, err %.2e) layer %.3f"
                      "  | ffn gather %.3f (%.0f TF/s, %s) | other input: layer %.3f (perm %.3f ffn %.3f comb %.3f)"
                      " | other silu: ffn %.3f (%.0f TF/s, err %.2e) | dyn4: ffn %.3f (%.0f TF/s, err %.2e) layer %.3f\n",
                      s.name, (long long)T, wg_ms, flops / (wg_ms * 1e-3) / 1e12,
                      100 * flops / (wg_ms * 1e-3) / 1e12 / peak_tflops, wg_err, layer_ms, layer_wg_ms, layer_graph_ms,
                      wst.permute_ms, wst.ffn_ms, wst.combine_ms, wg_static_ms,
                      wg_static_ms > 0 ? flops / (wg_static_ms * 1e-3) / 1e12 : 0.0, wg_static_err, layer_wg_static_ms,
                      wg_gather_ms, wg_gather_ms > 0 ? flops / (wg_gather_ms * 1e-3) / 1e12 : 0.0,
                      gather_same == 1 ? "bit-identical" : "DIFFERS", layer_wg_scatter_ms, wst_sc.permute_ms,
                      wst_sc.ffn_ms, wst_sc.combine_ms, wg_silu_ms,
                      wg_silu_ms > 0 ? flops / (wg_silu_ms * 1e-3) / 1e12 : 0.0, wg_silu_err, wg_d4_ms,
                      wg_d4_ms > 0 ? flops / (wg_d4_ms * 1e-3) / 1e12 : 0.0, wg_d4_err, layer_wg_d4_ms);
      else
        std::snprintf(line, sizeof line, "%-18s %6lld | wgmma path not available here\n", s.name, (long long)T);
      summary += line;
      char buf[4096];
      std::snprintf(buf, sizeof buf,
                    "%s{\"model\":\"%s\",\"tokens\":%lld,\"routing\":\"%s\",\"route_permute_ms\":%.5f,"
                    "\"route_permute_GBps\":%.1f,\"ffn_grouped_ms\":%.5f,\"ffn_streams_ms\":%.5f,"
                    "\"dense_ms\":%.5f,\"grouped_tflops\":%.1f,\"streams_tflops\":%.1f,\"dense_tflops\":%.1f,"
                    "\"layer_ms\":%.5f,\"stage_permute_ms\":%.5f,\"stage_ffn_ms\":%.5f,\"stage_combine_ms\":%.5f,"
                    "\"ffn_wgmma_ms\":%.5f,\"wgmma_tflops\":%.1f,\"wgmma_rel_err\":%.3g,\"layer_wgmma_ms\":%.5f,"
                    "\"layer_wgmma_graph_ms\":%.5f,\"route_permute_router_kernel_ms\":%.5f,"
                    "\"stage_wg_permute_ms\":%.5f,\"stage_wg_ffn_ms\":%.5f,\"stage_wg_combine_ms\":%.5f,"
                    "\"ffn_wgmma_static_ms\":%.5f,\"wgmma_static_rel_err\":%.3g,\"layer_wgmma_static_ms\":%.5f,"
                    "\"route_bucket_ms\":%.5f,\"ffn_wgmma_gather_ms\":%.5f,\"gather_bit_identical\":%d,"
                    "\"layer_input\":\"%s\",\"layer_wgmma_other_input_ms\":%.5f,\"stage_other_permute_ms\":%.5f,"
                    "\"stage_other_ffn_ms\":%.5f,\"stage_other_combine_ms\":%.5f,\"silu\":\"%s\","
                    "\"ffn_wgmma_other_silu_ms\":%.5f,\"wgmma_other_silu_rel_err\":%.3g,"
                    "\"ffn_wgmma_dynamic4_ms\":%.5f,\"wgmma_dynamic4_rel_err\":%.3g,\"layer_wgmma_dynamic4_ms\":%.5f,"
                    "\"tile\":%d,\"down_start\":%d,\"epilogue\":%d,",
                    first ? "" : ",", s.name, (long long)T, real ? "trace" : "synthetic", rp_ms, rp_GBps, grp_ms,
                    str_ms, dns_ms, flops / (grp_ms * 1e-3) / 1e12, flops / (str_ms * 1e-3) / 1e12,
                    flops / (dns_ms * 1e-3) / 1e12, layer_ms, st.permute_ms, st.ffn_ms, st.combine_ms, wg_ms,
                    wg_ms > 0 ? flops / (wg_ms * 1e-3) / 1e12 : 0.0, wg_err, layer_wg_ms, layer_graph_ms, rp3_ms,
                    wst.permute_ms, wst.ffn_ms, wst.combine_ms, wg_static_ms, wg_static_err, layer_wg_static_ms,
                    rb_ms, wg_gather_ms, gather_same,
                    wgmma_input() == WgmmaInput::kGather ? "gather" : "scatter", layer_wg_scatter_ms,
                    wst_sc.permute_ms, wst_sc.ffn_ms, wst_sc.combine_ms,
                    wgmma_silu() == WgmmaSilu::kTanh ? "tanh" : "exp", wg_silu_ms, wg_silu_err, wg_d4_ms, wg_d4_err,
                    layer_wg_d4_ms, int(wgmma_tile()), int(wgmma_down_start()), int(wgmma_epilogue()));
      json += buf;
      // The variants' arrays, in the order of var_tile above.
      const char* keys[3] = {"ffn_wgmma_variant_ms", "layer_wgmma_variant_ms", "wgmma_variant_rel_err"};
      for (int a = 0; a < 3; ++a) {
        json += std::string(a ? "," : "") + "\"" + keys[a] + "\":[";
        for (int t = 0; t < kVar; ++t) {
          std::snprintf(buf, sizeof buf, "%s%.5g", t ? "," : "", a == 0 ? tile_ffn_ms[t] : a == 1 ? tile_layer_ms[t] : tile_err[t]);
          json += buf;
        }
        json += "]";
      }
      json += "}";
      first = false;
    }
  }
  std::printf("\nsm_90a grouped GEMM (wgmma): FFN time, TFLOP/s, %% of the dense peak (%.0f TF/s), relative error vs\n"
              "cuBLAS grouped; layer: cuBLAS path (host sync) | wgmma path | wgmma path replayed from a CUDA graph;\n"
              "wgmma rows use the default schedule (%s); 'static:' the third round's schedule, 'dyn4:' the fourth\n"
              "round's dynamic one (experts in index order, partial tiles' rows loaded whole), same run;\n"
              "layer wg / graph: the layer's default input (%s); 'other input:' the other one, same run;\n"
              "silu epilogue: %s; 'other silu:' the FFN with the other one, same run\n",
              peak_tflops,
              wgmma_schedule() == WgmmaSchedule::kDynamic ? "dynamic" : wgmma_schedule() == WgmmaSchedule::kStatic ? "static" : "dynamic4",
              wgmma_input() == WgmmaInput::kGather ? "gathered in the gate/up GEMM" : "bucket + scatter copy",
              wgmma_silu() == WgmmaSilu::kTanh ? "tanh.approx" : "exp + approximate reciprocal");
  std::printf("%-18s %6s | %9s %7s %6s %9s | %9s %9s %9s\n", "model", "tokens", "ffn wg", "TF/s", "%pk",
              "rel err", "layer", "layer wg", "graph");
  std::printf("%s", summary.c_str());
  grace::bench::print_variant_header();
  std::printf("%s", tiles.c_str());
  json += "]}\n";
  std::ofstream(out_dir + "/moe_bench.json") << json;
  return 0;
}
