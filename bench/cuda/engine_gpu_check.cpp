// engine_gpu_check: the engine (src/engine, run_engine) on 2 GPUs with the NCCL Comm and the
// CUDA ComputeBackend, 2 ranks as 2 threads of one process (no MPI needed), topology 2x1
// (2 emulated nodes of 1 GPU). For each model shape, tokens per GPU and case
// (contiguous+primary+flat, eplb+wrr+flat, grace+tar+hierarchical) it runs the engine twice
// (the second run is reported: warm cuBLAS/NCCL) and prints the per-(batch, layer) dispatch /
// compute / combine time (max over ranks) and cross-node rows; at 1024 tokens per GPU it checks
// 32 tokens of each rank against the single-process F32 CPU reference (run_reference).
//
// usage: grace_cuda_engine_check [--data DIR]   (DIR: the .gpu-data trace slice; else synthetic)
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "grace/cuda/compute_backend.h"
#include "grace/cuda/device.h"
#include "grace/cuda/nccl_comm.h"
#include "grace/engine/engine.h"
#include "grace/engine/weights.h"
#include "grace/model.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/router.h"
#include "grace/synth.h"
#include "grace/topology.h"

using namespace grace;

namespace {

Trace slice_trace(const std::string& dir, int64_t T) {
  std::ifstream f(dir + "/dsv2lite_l10_ids_u8.bin", std::ios::binary);
  std::ifstream fw(dir + "/dsv2lite_l10_w_u16.bin", std::ios::binary);
  Trace tr;
  if (!f || !fw) return tr;
  std::vector<uint8_t> b(T * 6);
  std::vector<uint16_t> w(T * 6);
  if (!f.read(reinterpret_cast<char*>(b.data()), b.size()) || !fw.read(reinterpret_cast<char*>(w.data()), w.size() * 2)) return tr;
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
  CommScheme comm;
};

}  // namespace

int main(int argc, char** argv) {
  std::string data = ".gpu-data";
  if (argc > 2 && std::string(argv[1]) == "--data") data = argv[2];
  if (cuda::device_count() < 2) {
    std::printf("engine_gpu_check: needs 2 GPUs, found %d: skipped\n", cuda::device_count());
    return 0;
  }
  const Topology topo = parse_topology("2x1");
  const Case cases[] = {{"contiguous", "primary", CommScheme::kFlat},
                        {"eplb", "wrr", CommScheme::kFlat},
                        {"grace", "tar", CommScheme::kHierarchical}};
  struct Shape { const char* name; int64_t H, I; int E, k; };
  const Shape shapes[] = {{"deepseek-v2-lite", 2048, 1408, 64, 6}, {"qwen3-30b-a3b", 2048, 768, 128, 8}};
  int failures = 0;
  std::printf("%-17s %5s %-28s | %9s %9s %9s %9s | %10s %s\n", "model", "tok/g", "case", "disp ms",
              "comp ms", "comb ms", "layer ms", "inter rows", "check");
  for (const Shape& s : shapes) {
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
    for (int64_t per_gpu : {int64_t(1024), int64_t(8192)}) {
      for (const Case& c : cases) {
        PlanContext ctx{prof, model, topo, PlanOptions{}};
        const Placement pl = make_planner(c.planner)->plan(ctx);
        auto weights = engine::make_weight_source("random:5", s.H, s.I, 0);
        engine::EngineOptions opt;
        opt.comm = c.comm;
        opt.batch_tokens = 2 * per_gpu;
        opt.num_layers = 1;
        opt.max_batches = per_gpu == 1024 ? 4 : 1;
        opt.keep_outputs = true;
        opt.seed = 11;
        const cuda::NcclId id = cuda::nccl_unique_id();
        engine::EngineResult res[2];
        double err[2] = {0, 0};
        std::string errors[2];
        auto body = [&](int rank) {
          try {
            auto comm = cuda::make_nccl_comm(id, rank, 2, rank);
            auto compute = cuda::make_cuda_compute(rank);
            auto router = make_router(c.router, pl, topo, 3);
            auto w = engine::make_weight_source("random:5", s.H, s.I, 0);
            engine::EngineInputs in{&trace, &pl, &topo, model, router.get(), w.get()};
            engine::run_engine(*comm, *compute, in, opt);  // warm-up
            res[rank] = engine::run_engine(*comm, *compute, in, opt);
            if (per_gpu == 1024) {
              const auto& r = res[rank];
              const size_t n = std::min<size_t>(32, r.out_tokens.size());
              std::vector<int64_t> toks(r.out_tokens.begin(), r.out_tokens.begin() + n);
              const std::vector<float> ref = engine::run_reference(in, opt, toks);
              double md = 0, mr = 0;
              for (size_t i = 0; i < n * size_t(s.H); ++i) {
                md = std::max(md, double(std::fabs(r.out_hidden[i] - ref[i])));
                mr = std::max(mr, double(std::fabs(ref[i])));
              }
              err[rank] = mr > 0 ? md / mr : (md > 0 ? INFINITY : 0);
              if (!std::isfinite(err[rank])) err[rank] = INFINITY;
            }
          } catch (const std::exception& e) {
            errors[rank] = e.what();
          }
        };
        std::thread t0(body, 0), t1(body, 1);
        t0.join();
        t1.join();
        char label[64];
        std::snprintf(label, sizeof label, "%s+%s+%s", c.planner, c.router, comm_scheme_name(c.comm));
        if (!errors[0].empty() || !errors[1].empty()) {
          std::printf("%-17s %5lld %-28s | ERROR rank0: %s | rank1: %s\n", s.name, (long long)per_gpu, label,
                      errors[0].c_str(), errors[1].c_str());
          ++failures;
          continue;
        }
        const auto& r = res[0];
        const double nb = double(r.num_batches > 0 ? r.num_batches : 1);
        const auto& t = r.total;
        std::string check = "-";
        if (per_gpu == 1024) {
          const double e = std::max(err[0], err[1]);
          const bool ok = e <= 3e-2;
          failures += !ok;
          char b[64];
          std::snprintf(b, sizeof b, "%s max|d|/max|ref| %.1e", ok ? "OK" : "FAIL", e);
          check = b;
        }
        std::printf("%-17s %5lld %-28s | %9.3f %9.3f %9.3f %9.3f | %10lld %s%s\n", s.name, (long long)per_gpu, label,
                    1e3 * t.dispatch_s / nb, 1e3 * t.compute_s / nb, 1e3 * t.combine_s / nb,
                    1e3 * (t.dispatch_s + t.compute_s + t.combine_s) / nb,
                    (long long)(t.dispatch.inter_rows / (long long)nb), check.c_str(), real || s.E != 64 ? "" : " (synthetic)");
      }
    }
  }
  std::printf("engine_gpu_check: %d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
