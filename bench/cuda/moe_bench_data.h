// Helpers of the GPU MoE-layer benchmark (moe_bench.cpp): timing, the routing it runs on, the
// placement it routes with.
#ifndef GRACE_BENCH_CUDA_MOE_BENCH_DATA_H_
#define GRACE_BENCH_CUDA_MOE_BENCH_DATA_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "grace/placement.h"

namespace grace::bench {

// The benchmark's ceilings: 2 GiB device-to-device copy, GB/s of bytes read + written; the dense
// BF16 GEMM peak, 8192^3 through cuBLAS (F32 accumulate, random data), TFLOP/s.
double measure_copy_GBps();
double measure_dense_tflops();

// Median of `reps` CUDA-event timings of body() after two warm-up calls, in ms.
float median_ms(int reps, const std::function<void()>& body);

// Routing of T tokens from the real trace slice in `dir` (ids u8, weights u16 x 1e4); false when
// the slice is not there or too short.
bool load_trace(const std::string& dir, int64_t T, int k, std::vector<int32_t>& ids, std::vector<float>& w);

// Synthetic Zipf-skewed routing (batch max/mean ~3, like the trace), deterministic for a seed.
void synthetic(int64_t T, int E, int k, uint64_t seed, std::vector<int32_t>& ids, std::vector<float>& w);

// 2 nodes x 4 GPUs: contiguous primaries, the 8 hottest experts of the batch get two replicas.
Placement replicated_placement(int E, const std::vector<int32_t>& ids);

// --profile T: route + permute, then the wgmma layer with either input, 3 rounds (for ncu).
int run_profile(const std::string& data_dir, int64_t T);
// --permute T: route + permute alone with the tiled path's options side by side (permute_bench.cpp);
// a per-phase timeline at T tokens.
int run_permute(const std::string& data_dir, int64_t timeline_tokens, int reps);
// The heading of the sixth round's variant table (tile widths x down-GEMM start, the defaults).
void print_variant_header();

}  // namespace grace::bench

#endif  // GRACE_BENCH_CUDA_MOE_BENCH_DATA_H_
