// Permute / unpermute of token rows on the GPU.
//
// Bucketing: every (token, expert) pair p = t * top_k + j has a key in [0, num_buckets] (a flat
// slot from route_on_device, or an expert id; num_buckets means "not here, skip"). build()
// sorts the pairs by key with a stable counting sort (<= 255 buckets and <= 8192 pairs) or a
// stable radix sort (deterministic: inside a bucket pairs keep token order), and fills
//   order[i]     the pair at sorted position i           [num_pairs]
//   position[p]  the sorted position of pair p            [num_pairs]  (inverse of order)
//   offsets[b]   first sorted position of bucket b        [num_buckets + 1]; offsets[num_buckets]
//                is the number of pairs kept (skipped pairs sort last)
// gather_rows copies token rows into that order (one row per kept pair, contiguous per bucket);
// combine_rows is the weighted gather back: out[t] = sum_j w[t, j] * rows[position[t*k + j]]
// (F32 accumulation, skipped pairs contribute nothing).
#ifndef GRACE_CUDA_PERMUTE_H_
#define GRACE_CUDA_PERMUTE_H_

#include <cstdint>
#include <vector>

#include "grace/cuda/device.h"
#include "grace/cuda/routing.h"

namespace grace::cuda {

class PairBuckets {
 public:
  PairBuckets() = default;

  // keys: device [num_pairs]. Asynchronous on `stream`; scratch grows as needed.
  void build(const int32_t* keys, int64_t num_pairs, int num_buckets, Stream stream = nullptr);

  // build() and the row scatter in one (src/cuda/bucket_scatter.cu): keys [tokens * top_k], the
  // same order / position / offsets as build(), and dst[position[p]][:] = x[p / top_k][:] for
  // every kept pair (as scatter_rows with kept = offsets + num_buckets). Two launches; falls back
  // to build + scatter for more than 255 buckets or very large batches. Capturable. dst null:
  // the bucketing alone (x is not read; for the expert GEMM that gathers its rows through order()).
  void build_scatter(const int32_t* keys, int64_t tokens, int top_k, int num_buckets, const bf16_t* x,
                     int64_t hidden, bf16_t* dst, Stream stream = nullptr);

  // route_on_device + build_scatter with the routing done inside the bucket passes (one launch
  // less): keys are the flat slots of batch.layer (num_buckets = table.num_slots(batch.layer)),
  // dest_gpu and flat_slot (device [tokens * top_k], either may be null) are written as
  // route_on_device writes them, and order / position / offsets / dst as build_scatter would
  // on those keys (bit for bit). Where build_scatter falls back, this is the router kernel then
  // build_scatter. Capturable.
  void route_build_scatter(const DeviceRoutingTable& table, DeviceRouter router, uint64_t seed,
                           const DeviceRouteBatch& batch, int32_t* dest_gpu, int32_t* flat_slot,
                           const bf16_t* x, int64_t hidden, bf16_t* dst, Stream stream = nullptr);

  // Tuning knob of the tiled bucket + scatter (benchmarks): about this many tiles of whole tokens
  // per batch (<= 0: the default, 256).
  void set_tile_target(int tiles) { tile_target_ = tiles; }

  // Tuning knobs of the tiled bucket + scatter (benchmarks, tests); the defaults are what the
  // layer runs.
  struct TiledOptions {
    int hist_group = 0;        // copy tiles per histogram tile of launch 1 (<= 0: the default, 4)
    bool shared_table = true;  // route_build_scatter: the layer's table in shared memory where it fits
    bool decisions = true;     // route_build_scatter, tar, shared table: tar's precomputed decisions too
    bool sub_counts = true;    // launch 1 counts each copy tile apart (groups up to 8), so that launch 2
                               // does not count its group's earlier copy tiles again
    bool prefetch_rows = false;  // launch 2 prefetches its token rows into L2 after its sums (off:
                                 // measured slower queued, back to back and at 16,384 tokens)
    unsigned long long* stamps = nullptr;  // device timeline for the benchmark (%globaltimer):
                                           // 2 per histogram tile, then 5 per copy tile
  };
  void set_tiled_options(const TiledOptions& o) { opts_ = o; }

  const int32_t* order() const { return order_.get(); }
  const int32_t* position() const { return position_.get(); }
  const int32_t* offsets() const { return offsets_.get(); }
  int64_t num_pairs() const { return num_pairs_; }
  int num_buckets() const { return num_buckets_; }
  // Copies offsets to the host (synchronises the stream).
  std::vector<int32_t> host_offsets(Stream stream = nullptr) const;

 private:
  int64_t tile_tokens(int64_t tokens) const;
  bool tiled_fits(int64_t tokens, int top_k, int num_buckets) const;
  int32_t* prepare_tiled(int64_t tokens, int top_k, int num_buckets, int* num_hist, int* stride);
  int32_t* sub_before(int64_t tokens, int num_buckets);

  int64_t num_pairs_ = 0;
  int num_buckets_ = 0;
  int tile_target_ = 0;
  TiledOptions opts_;
  DeviceBuffer<int32_t> order_, position_, offsets_, keys_sorted_, iota_, hist_, route_keys_, sub_before_;
  DeviceBuffer<unsigned char> temp_;
};

// dst[i][:] = src[order[i] / top_k][:] for i < num_rows (num_rows <= pairs; pass the kept
// count). hidden must be a multiple of 8 and rows 16-byte aligned.
void gather_rows(const bf16_t* src, const int32_t* order, int top_k, int64_t num_rows,
                 int64_t hidden, bf16_t* dst, Stream stream = nullptr);

// The same rows written token by token: dst[position[t*k+j]][:] = src[t][:] for every pair with
// position < *kept (kept: device pointer; null: all). Reads each token row once (faster than
// gather_rows when top_k > 1).
void scatter_rows(const bf16_t* src, const int32_t* position, const int32_t* kept, int64_t tokens,
                  int top_k, int64_t hidden, bf16_t* dst, Stream stream = nullptr);

// scatter_rows as a programmatic dependent launch (Hopper; a plain launch elsewhere): its blocks
// start while the kernel before it in the stream still runs, load their rows of src, then wait
// for that kernel before reading position/kept and writing dst. Only where the kernel before it
// does not write src (directly after PairBuckets::build, as in LocalMoeLayer).
void scatter_rows_after_build(const bf16_t* src, const int32_t* position, const int32_t* kept,
                              int64_t tokens, int top_k, int64_t hidden, bf16_t* dst,
                              Stream stream = nullptr);

// out[t][:] = sum_j weights[t*k+j] * rows[position[t*k+j]][:] over pairs whose position is
// < *kept (kept: device pointer, e.g. offsets + num_buckets; null: all pairs kept).
void combine_rows(const bf16_t* rows, const int32_t* position, const float* weights,
                  const int32_t* kept, int64_t num_tokens, int top_k, int64_t hidden,
                  bf16_t* out, Stream stream = nullptr);

// combine_rows as a programmatic dependent launch (Hopper; a plain launch elsewhere): its blocks
// may be scheduled before the kernel before it (the expert FFN) has finished, and wait for it
// before reading anything. LocalMoeLayer's combine.
void combine_rows_after_ffn(const bf16_t* rows, const int32_t* position, const float* weights,
                            const int32_t* kept, int64_t num_tokens, int top_k, int64_t hidden,
                            bf16_t* out, Stream stream = nullptr);

// F32 <-> BF16 element-wise conversion (n elements).
void to_bf16(const float* src, int64_t n, bf16_t* dst, Stream stream = nullptr);
void to_f32(const bf16_t* src, int64_t n, float* dst, Stream stream = nullptr);

}  // namespace grace::cuda

#endif  // GRACE_CUDA_PERMUTE_H_
