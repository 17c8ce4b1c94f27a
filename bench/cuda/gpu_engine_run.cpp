// gpu_engine_run: the GPU-resident MoE layer (GpuMoeEngine) on N GPUs, one process per GPU,
// launched by mpirun (rank from OMPI_COMM_WORLD_RANK / PMI_RANK / GRACE_RANK, size likewise).
// MPI itself is not linked: the NCCL unique id travels through files in --rendezvous DIR (rank 0
// writes DIR/nccl_id.<case> atomically, the others wait for it), so the same binary also runs
// under any launcher that sets those variables.
//
// For each model shape (DeepSeek-V2-Lite 2048/1408 64x top-6 with the real routing slice in
// --data; Qwen3-30B-A3B 2048/768 128x top-8 with synthetic routing), tokens per GPU (1024,
// 8192) and case (planner+router+comm) it (1) checks every output row against the single-GPU
// reference (LocalMoeLayer over all experts, same weights, + residual) and 2 rows per rank
// against an F32 CPU computation, and (2) times the layer (CUDA events, median of --reps after
// 3 warm-ups), max over ranks, with rows/bytes per tier. Rank 0 prints a table and writes TSV.
//
// usage: gpu_engine_run --rendezvous DIR [--data DIR] [--reps N] [--out FILE] [--topology 2x1]
//        gpu_engine_run --plan-only DIR [--data DIR] [--topology 2x1]   (no GPU: writes the
//        placements and traces that `grace simulate` reads)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "grace/cuda/device.h"
#include "grace/cuda/gpu_engine.h"
#include "grace/cuda/moe_layer.h"
#include "grace/cuda/nccl_comm.h"
#include "grace/model.h"
#include "grace/placement.h"
#include "grace/placement_io.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/routing_table.h"
#include "grace/synth.h"
#include "grace/topology.h"
#include "grace/trace_io.h"

using namespace grace;
namespace fs = std::filesystem;

namespace {

int env_int(std::initializer_list<const char*> names, int dflt) {
  for (const char* n : names)
    if (const char* v = std::getenv(n)) return std::atoi(v);
  return dflt;
}

Trace slice_trace(const std::string& dir, int64_t T) {
  std::ifstream f(dir + "/dsv2lite_l10_ids_u8.bin", std::ios::binary);
  std::ifstream fw(dir + "/dsv2lite_l10_w_u16.bin", std::ios::binary);
  Trace tr;
  if (!f || !fw) return tr;
  std::vector<uint8_t> b(T * 6);
  std::vector<uint16_t> w(T * 6);
  if (!f.read(reinterpret_cast<char*>(b.data()), b.size()) || !fw.read(reinterpret_cast<char*>(w.data()), w.size() * 2))
    return tr;
  tr.num_layers = 1;
  tr.top_k = 6;
  tr.num_experts = 64;
  tr.ids.assign(b.begin(), b.end());
  for (uint16_t x : w) tr.weights.push_back(float(x) * 1e-4f);
  for (int64_t s = 0; s < T; s += 512) tr.seq_offsets.push_back(s);
  tr.seq_offsets.push_back(T);
  return tr;
}

struct Case {
  const char* planner;
  const char* router;
  bool hier;
};
constexpr Case kCases[] = {{"contiguous", "primary", false},
                           {"eplb", "tar", false},
                           {"grace", "tar", false},
                           {"grace", "tar", true}};
struct Shape {
  const char* name;
  int64_t H, I;
  int E, k;
};
constexpr Shape kShapes[] = {{"deepseek-v2-lite", 2048, 1408, 64, 6}, {"qwen3-30b-a3b", 2048, 768, 128, 8}};
constexpr int64_t kTokens[] = {1024, 8192};

cuda::NcclId rendezvous(const std::string& dir, int rank, const std::string& tag) {
  const std::string path = dir + "/nccl_id." + tag;
  cuda::NcclId id{};
  if (rank == 0) {
    id = cuda::nccl_unique_id();
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp, std::ios::binary).write(reinterpret_cast<const char*>(id.bytes), sizeof id.bytes);
    fs::rename(tmp, path);
    return id;
  }
  for (int i = 0; i < 60000; ++i) {
    std::ifstream f(path, std::ios::binary);
    if (f && f.read(reinterpret_cast<char*>(id.bytes), sizeof id.bytes)) return id;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  throw std::runtime_error("rendezvous: no " + path + " after 120 s");
}

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

float bf(cuda::bf16_t b) { return cuda::bf16_to_float(b); }

// out = x + sum_j w_j FFN_e(x) in F32 on the host for one token, weights copied from the device.
std::vector<float> cpu_row(const std::vector<cuda::bf16_t>& x, const int32_t* ids, const float* w, int k, int64_t H,
                           int64_t I, const cuda::bf16_t* w13_all, const cuda::bf16_t* w2_all) {
  std::vector<float> y(H);
  for (int64_t h = 0; h < H; ++h) y[h] = bf(x[h]);
  std::vector<cuda::bf16_t> a(2 * I * H), b(H * I);
  std::vector<float> act(I);
  for (int j = 0; j < k; ++j) {
    cuda::copy_to_host(a.data(), w13_all + size_t(ids[j]) * 2 * I * H, a.size() * 2);
    cuda::copy_to_host(b.data(), w2_all + size_t(ids[j]) * H * I, b.size() * 2);
    for (int64_t i = 0; i < I; ++i) {
      double g = 0, u = 0;
      for (int64_t h = 0; h < H; ++h) {
        g += double(bf(a[i * H + h])) * bf(x[h]);
        u += double(bf(a[(I + i) * H + h])) * bf(x[h]);
      }
      act[i] = float(g / (1 + std::exp(-g)) * u);
    }
    for (int64_t h = 0; h < H; ++h) {
      double s = 0;
      for (int64_t i = 0; i < I; ++i) s += double(bf(b[h * I + i])) * act[i];
      y[h] += float(w[j] * s);
    }
  }
  return y;
}

double rel_err(const cuda::bf16_t* got, const float* ref, size_t n) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < n; ++i) {
    const double g = bf(got[i]);
    if (!std::isfinite(g)) return INFINITY;
    md = std::max(md, std::fabs(g - ref[i]));
    mr = std::max(mr, double(std::fabs(ref[i])));
  }
  return mr > 0 ? md / mr : md;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = ".gpu-data", rdv, out_path, plan_dir, topo_name = "2x1";
  int reps = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--data") data = v;
    else if (a == "--rendezvous") rdv = v;
    else if (a == "--reps") reps = std::max(1, std::atoi(v.c_str()));
    else if (a == "--out") out_path = v;
    else if (a == "--plan-only") plan_dir = v;
    else if (a == "--topology") topo_name = v;
    else { std::fprintf(stderr, "gpu_engine_run: unknown flag %s\n", a.c_str()); return 2; }
  }
  const int rank = env_int({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "GRACE_RANK"}, 0);
  const int size = env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "GRACE_SIZE"}, 1);
  const Topology topo = parse_topology(topo_name);
  if (plan_dir.empty() && (rdv.empty() || size != topo.nodes * topo.gpus_per_node)) {
    std::fprintf(stderr, "gpu_engine_run: need --rendezvous and %d ranks (have %d)\n", topo.nodes * topo.gpus_per_node, size);
    return 2;
  }
  const int ndev = plan_dir.empty() ? cuda::device_count() : 0;
  if (plan_dir.empty() && ndev == 0) {
    std::printf("gpu_engine_run: no GPU: skipped\n");
    return 0;
  }
  const int device = env_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "GRACE_LOCAL_RANK"}, rank) % std::max(ndev, 1);
  FILE* tsv = nullptr;
  if (rank == 0 && !out_path.empty()) {
    tsv = std::fopen(out_path.c_str(), "w");
    if (tsv) std::fprintf(tsv, "model\ttokens_per_gpu\tcase\tdispatch_ms\tcompute_ms\tcombine_ms\tlayer_ms\trows_inter\trows_intra\tbytes_inter\tbytes_intra\terr_vs_gpu_ref\terr_vs_cpu\n");
  }
  if (rank == 0 && plan_dir.empty())
    std::printf("%-16s %5s %-27s | %8s %8s %8s %8s | %9s %9s %10s | %s\n", "model", "tok/g", "case", "disp ms", "comp ms",
                "comb ms", "layer ms", "rows x", "rows in", "MB x-node", "check (rel err vs ref | vs CPU)");
  int failures = 0, case_no = 0;
  for (const Shape& s : kShapes) {
    ModelSpec model = generic_model(1, s.E, s.k, s.H, s.I);
    model.name = s.name;
    Trace trace;
    bool real = false;
    if (s.E == 64) {
      trace = slice_trace(data, 16384);
      real = trace.num_layers == 1;
    }
    if (!real) {
      SynthOptions so;
      so.tokens = 16384;
      so.seed = 3;
      trace = synthesize_trace(model, so);
    }
    const Profile prof = build_profile(trace);
    std::vector<Placement> placements;
    for (const Case& c : kCases) placements.push_back(make_planner(c.planner)->plan(PlanContext{prof, model, topo, PlanOptions{}}));
    if (!plan_dir.empty()) {
      fs::create_directories(plan_dir + "/" + s.name);
      write_trace(trace, plan_dir + "/" + s.name + "/trace", true);
      for (size_t i = 0; i < std::size(kCases); ++i)
        save_placement(placements[i], plan_dir + "/" + s.name + "/" + kCases[i].planner + ".json");
      std::printf("wrote %s/%s (%s routing)\n", plan_dir.c_str(), s.name, real ? "real" : "synthetic");
      continue;
    }
    cuda::set_device(device);
    // Full weights for the single-GPU reference (same fill as the engine's local slots).
    cuda::DeviceBuffer<cuda::bf16_t> w13_all(size_t(s.E) * 2 * s.I * s.H), w2_all(size_t(s.E) * s.H * s.I);
    for (int e = 0; e < s.E; ++e)
      cuda::fill_expert_weights(e, 5, s.H, s.I, w13_all.get() + size_t(e) * 2 * s.I * s.H, w2_all.get() + size_t(e) * s.H * s.I);
    for (int64_t T : kTokens) {
      const int64_t base = int64_t(rank) * T;
      std::vector<int32_t> ids(T * s.k);
      std::vector<float> gw(T * s.k);
      for (int64_t i = 0; i < T * s.k; ++i) {
        const int64_t src = (base * s.k + i) % int64_t(trace.ids.size());
        ids[i] = trace.ids[src];
        gw[i] = trace.weights.empty() ? 1.0f / s.k : trace.weights[src];
      }
      cuda::DeviceBuffer<int32_t> d_ids;
      cuda::DeviceBuffer<float> d_w;
      d_ids.upload(ids.data(), ids.size());
      d_w.upload(gw.data(), gw.size());
      cuda::DeviceBuffer<cuda::bf16_t> x(T * s.H), y(T * s.H), ref(T * s.H);
      cuda::fill_uniform_bf16(x.get(), T * s.H, 1000 + rank, 1.0f);
      {  // the reference layer: every expert on this GPU
        cuda::LocalMoeLayer full(s.E, s.k, s.H, s.I);
        full.forward(x.get(), d_ids.get(), d_w.get(), T, w13_all.get(), w2_all.get(), ref.get());
        cuda::synchronize();
      }
      std::vector<cuda::bf16_t> h_x(T * s.H), h_ref(T * s.H), h_y(T * s.H);
      x.download(h_x.data(), h_x.size());
      ref.download(h_ref.data(), h_ref.size());
      std::vector<float> ref_f(T * s.H);
      for (size_t i = 0; i < ref_f.size(); ++i) ref_f[i] = bf(h_x[i]) + bf(h_ref[i]);
      // F32 CPU rows for 2 tokens (first and last of this rank).
      std::vector<int64_t> cpu_tok = {0, T - 1};
      std::vector<std::vector<float>> cpu_ref;
      if (T == kTokens[0])
        for (int64_t t : cpu_tok) {
          std::vector<cuda::bf16_t> xr(h_x.begin() + t * s.H, h_x.begin() + (t + 1) * s.H);
          cpu_ref.push_back(cpu_row(xr, &ids[t * s.k], &gw[t * s.k], s.k, s.H, s.I, w13_all.get(), w2_all.get()));
        }
      for (size_t ci = 0; ci < std::size(kCases); ++ci) {
        const Case& c = kCases[ci];
        char label[64];
        std::snprintf(label, sizeof label, "%s+%s+%s", c.planner, c.router, c.hier ? "hierarchical" : "flat");
        try {
          const RoutingTable table(placements[ci], topo);
          cuda::GpuEngineConfig cfg;
          cfg.rank = rank;
          cfg.size = size;
          cfg.device = device;
          cfg.top_k = s.k;
          cfg.hidden = s.H;
          cfg.inter = s.I;
          cfg.hierarchical = c.hier;
          cfg.router = cuda::parse_device_router(c.router);
          const cuda::NcclId id = rendezvous(rdv, rank, std::to_string(case_no++));
          cuda::GpuMoeEngine eng(id, cfg, placements[ci], topo, table);
          float hash[2] = {float(placement_hash(placements[ci]) & 0xfffff), -float(placement_hash(placements[ci]) & 0xfffff)};
          eng.allreduce_max(hash, 2);
          if (hash[0] != -hash[1]) throw std::runtime_error("placements differ between ranks");
          cuda::fill_bytes(y.get(), 0xff, size_t(T) * s.H * 2);  // NaN poison
          cuda::GpuLayerStats st = eng.forward(x.get(), d_ids.get(), d_w.get(), T, base, y.get());
          y.download(h_y.data(), h_y.size());
          float err[2] = {float(rel_err(h_y.data(), ref_f.data(), ref_f.size())), 0};
          for (size_t r = 0; r < cpu_ref.size(); ++r)
            err[1] = std::max(err[1], float(rel_err(h_y.data() + cpu_tok[r] * s.H, cpu_ref[r].data(), size_t(s.H))));
          eng.allreduce_max(err, 2);
          for (int w = 0; w < 3; ++w) eng.forward(x.get(), d_ids.get(), d_w.get(), T, base, y.get());
          std::vector<float> vd, vc, vb, vt;
          for (int r = 0; r < reps; ++r) {
            eng.barrier();
            st = eng.forward(x.get(), d_ids.get(), d_w.get(), T, base, y.get());
            vd.push_back(st.dispatch_ms);
            vc.push_back(st.compute_ms);
            vb.push_back(st.combine_ms);
            vt.push_back(st.dispatch_ms + st.compute_ms + st.combine_ms);
          }
          float tm[4] = {median(vd), median(vc), median(vb), median(vt)};
          eng.allreduce_max(tm, 4);
          // Per-rank counters (slot r = rank r), summed over ranks on the host.
          std::vector<float> cnt(4 * size, 0.f);
          cnt[4 * rank + 0] = float(st.rows_inter);
          cnt[4 * rank + 1] = float(st.rows_intra);
          cnt[4 * rank + 2] = float(st.bytes_inter) / 1e6f;
          cnt[4 * rank + 3] = float(st.bytes_intra) / 1e6f;
          eng.allreduce_max(cnt.data(), int(cnt.size()));
          double tot[4] = {0, 0, 0, 0};
          for (int r = 0; r < size; ++r)
            for (int q = 0; q < 4; ++q) tot[q] += cnt[4 * r + q];
          const bool ok = err[0] <= 2e-2 && (cpu_ref.empty() || err[1] <= 3e-2);
          failures += !ok;
          if (rank == 0) {
            char chk[96];
            if (cpu_ref.empty()) std::snprintf(chk, sizeof chk, "%s %.1e | -", ok ? "OK" : "FAIL", err[0]);
            else std::snprintf(chk, sizeof chk, "%s %.1e | %.1e", ok ? "OK" : "FAIL", err[0], err[1]);
            std::printf("%-16s %5lld %-27s | %8.3f %8.3f %8.3f %8.3f | %9.0f %9.0f %10.2f | %s%s\n", s.name, (long long)T,
                        label, tm[0], tm[1], tm[2], tm[3], tot[0], tot[1], tot[2], chk, real ? "" : " (synthetic routing)");
            std::fflush(stdout);
            if (tsv)
              std::fprintf(tsv, "%s\t%lld\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\t%.0f\t%.0f\t%.0f\t%.3g\t%.3g\n", s.name,
                           (long long)T, label, tm[0], tm[1], tm[2], tm[3], tot[0], tot[1], tot[2] * 1e6, tot[3] * 1e6,
                           err[0], err[1]);
          }
        } catch (const std::exception& e) {
          std::printf("%-16s %5lld %-27s | ERROR rank %d: %s\n", s.name, (long long)T, label, rank, e.what());
          std::fflush(stdout);
          ++failures;
        }
      }
    }
  }
  if (tsv) std::fclose(tsv);
  if (plan_dir.empty()) std::printf("gpu_engine_run rank %d: %d failures\n", rank, failures);
  return failures == 0 ? 0 : 1;
}
