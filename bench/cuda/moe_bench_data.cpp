// Helpers of the GPU MoE-layer benchmark (moe_bench_data.h).
#include "moe_bench_data.h"

#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>

#include "grace/cuda/device.h"
#include "grace/cuda/expert_ffn.h"
#include "grace/cuda/moe_layer.h"
#include "grace/cuda/permute.h"
#include "grace/cuda/routing.h"
#include "grace/routing_table.h"
#include "grace/topology.h"

namespace grace::bench {

using namespace grace::cuda;

float median_ms(int reps, const std::function<void()>& body) {
  Timer t;
  body();
  body();  // warm-up
  std::vector<float> ms;
  for (int r = 0; r < reps; ++r) {
    t.start();
    body();
    ms.push_back(t.stop());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

double measure_copy_GBps() {
  const size_t copy_bytes = size_t(2) << 30;
  DeviceBuffer<unsigned char> ca(copy_bytes), cb(copy_bytes);
  fill_bytes(ca.get(), 1, copy_bytes);
  const float copy_ms = median_ms(10, [&] { copy_device(cb.get(), ca.get(), copy_bytes); });
  return 2.0 * copy_bytes / (copy_ms * 1e-3) / 1e9;
}

double measure_dense_tflops() {
  const int n = 8192;
  DeviceBuffer<bf16_t> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
  fill_uniform_bf16(a.get(), int64_t(n) * n, 91, 1.0f);
  fill_uniform_bf16(b.get(), int64_t(n) * n, 92, 1.0f);
  cublasHandle_t hd;
  cublasCreate(&hd);
  const float one = 1.0f, zero = 0.0f;
  const float ms = median_ms(10, [&] {
    cublasGemmEx(hd, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, a.get(), CUDA_R_16BF, n, b.get(), CUDA_R_16BF, n, &zero,
                 c.get(), CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  });
  cublasDestroy(hd);
  return 2.0 * n * n * n / (ms * 1e-3) / 1e12;
}

bool load_trace(const std::string& dir, int64_t T, int k, std::vector<int32_t>& ids, std::vector<float>& w) {
  std::ifstream fi(dir + "/dsv2lite_l10_ids_u8.bin", std::ios::binary), fw(dir + "/dsv2lite_l10_w_u16.bin", std::ios::binary);
  if (!fi || !fw) return false;
  std::vector<uint8_t> b(T * k);
  std::vector<uint16_t> u(T * k);
  if (!fi.read(reinterpret_cast<char*>(b.data()), b.size())) return false;
  if (!fw.read(reinterpret_cast<char*>(u.data()), u.size() * 2)) return false;
  ids.assign(b.begin(), b.end());
  w.resize(T * k);
  for (size_t i = 0; i < u.size(); ++i) w[i] = float(u[i]) * 1e-4f;
  return true;
}

void synthetic(int64_t T, int E, int k, uint64_t seed, std::vector<int32_t>& ids, std::vector<float>& w) {
  std::mt19937_64 rng(seed);
  std::vector<double> pop(E);
  std::vector<int> perm(E);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  for (int e = 0; e < E; ++e) pop[perm[e]] = 1.0 / std::pow(double(e + 1), 0.35);  // batch max/mean ~3, like the trace
  ids.resize(T * k);
  w.resize(T * k);
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> p = pop;
    double total = std::accumulate(p.begin(), p.end(), 0.0), ws = 0;
    for (int j = 0; j < k; ++j) {
      double r = u(rng) * total;
      int e = 0;
      while (e + 1 < E && (p[e] == 0 || r >= p[e])) r -= p[e], ++e;
      if (p[e] == 0) e = int(std::find_if(p.begin(), p.end(), [](double x) { return x > 0; }) - p.begin());
      ids[t * k + j] = e;
      total -= p[e];
      p[e] = 0;
      w[t * k + j] = float(0.05 + u(rng));
      ws += w[t * k + j];
    }
    for (int j = 0; j < k; ++j) w[t * k + j] /= float(ws);
  }
}

Placement replicated_placement(int E, const std::vector<int32_t>& ids) {
  std::vector<int64_t> load(E, 0);
  for (int32_t e : ids) load[e]++;
  std::vector<int> hot(E);
  std::iota(hot.begin(), hot.end(), 0);
  std::sort(hot.begin(), hot.end(), [&](int a, int b) { return load[a] > load[b]; });
  Placement p;
  p.model = "bench";
  p.policy = "bench";
  p.num_layers = 1;
  p.num_experts = E;
  p.nodes = 2;
  p.gpus_per_node = 4;
  p.slots_per_gpu = E / 8 + 3;
  LayerPlacement lp;
  lp.experts.resize(E);
  for (int e = 0; e < E; ++e) lp.experts[e].instances = {{e / (E / 8), 1.0}};
  for (int i = 0; i < 8; ++i) {
    const int e = hot[i], g = e / (E / 8);
    lp.experts[e].instances = {{g, 0.5}, {(g + 1) % 4 + (g / 4) * 4, 0.25}, {(g + 4) % 8, 0.25}};
  }
  p.layers.push_back(lp);
  return p;
}

int run_profile(const std::string& data_dir, int64_t T) {
  const int64_t H = 2048, I = 1408;
  const int E = 64, k = 6;
  std::vector<int32_t> ids;
  std::vector<float> gw;
  if (!load_trace(data_dir, T, k, ids, gw)) synthetic(T, E, k, 1000 + T, ids, gw);
  DeviceBuffer<bf16_t> w13(size_t(E) * 2 * I * H), w2(size_t(E) * H * I), x(T * H), xs(T * k * H), out(T * H);
  fill_uniform_bf16(w13.get(), int64_t(w13.size()), 1, 1.0f / std::sqrt(float(H)));
  fill_uniform_bf16(w2.get(), int64_t(w2.size()), 2, 1.0f / std::sqrt(float(I)));
  fill_uniform_bf16(x.get(), T * H, 3 + T, 1.0f);
  DeviceBuffer<int32_t> d_ids, d_slot(T * k);
  DeviceBuffer<float> d_w;
  d_ids.upload(ids.data(), ids.size());
  d_w.upload(gw.data(), gw.size());
  const RoutingTable table(replicated_placement(E, ids), parse_topology("2x4"));
  const DeviceRoutingTable dt(table);
  PairBuckets pb;
  LocalMoeLayer a(E, k, H, I, GemmPath::kWgmma);
  const WgmmaInput in = wgmma_input();
  for (int r = 0; r < 3; ++r) {  // per round: 2 route + permute launches, then 5 per layer call (3 calls)
    pb.route_build_scatter(dt, DeviceRouter::kTar, 7, DeviceRouteBatch{0, T, k, d_ids.get(), nullptr, 0, 0}, nullptr,
                           d_slot.get(), x.get(), H, xs.get());
    a.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get());  // default input
    set_wgmma_input(in == WgmmaInput::kGather ? WgmmaInput::kScatter : WgmmaInput::kGather);
    a.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get());  // the other one
    set_wgmma_input(in);
    const WgmmaTile tile = wgmma_tile();  // and the other token-tile width (sixth round)
    set_wgmma_tile(tile == WgmmaTile::k128 ? WgmmaTile::k192 : WgmmaTile::k128);
    a.forward(x.get(), d_ids.get(), d_w.get(), T, w13.get(), w2.get(), out.get());
    set_wgmma_tile(tile);
  }
  synchronize();
  std::printf("profile: %lld tokens done\n", (long long)T);
  return 0;
}

void print_variant_header() {
  static const char* tile_names[] = {"128", "192", "192 gate/up", "192 down", "auto"};
  std::printf("\nsixth round's variants (defaults: tile %s, down GEMM %s), back to back in the same run: FFN ms |\n"
              "layer wg ms | worst rel. error vs cuBLAS grouped. Tiles: 128 = 256 x 128, 4 stages; 192 = 256 x 192,\n"
              "3 stages; up / dn: 192 for that GEMM only; auto: 192 when rows >= 128 per expert. '+pe': the down\n"
              "GEMM starts per expert (expert chain) instead of after the whole gate/up grid; '+st': the staged\n"
              "epilogue (192-token tiles; default epilogue: %s)\n",
              tile_names[int(wgmma_tile())],
              wgmma_down_start() == WgmmaDownStart::kPerExpert ? "per expert" : "after gate/up",
              wgmma_epilogue() == WgmmaEpilogue::kStaged ? "staged" : "direct");
  std::printf("%-18s %6s |", "model", "tokens");
  for (int r = 0; r < 2; ++r) {
    for (const char* h : {"128", "192", "up192", "dn192", "auto", "128+pe", "192+pe", "auto+pe", "192pest", "autpest"})
      std::printf(" %7s", h);
    std::printf(r == 0 ? " |" : " | err\n");
  }
}

}  // namespace grace::bench
