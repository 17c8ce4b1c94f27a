// Stable counting sort of at most 8192 pair keys into at most 255 buckets (+ the "skipped"
// bucket), the small-batch path of PairBuckets::build (grace/cuda/permute.h has the contract: order, position,
// offsets). Internal header (src/cuda only).
#ifndef GRACE_SRC_CUDA_BUCKET_SORT_H_
#define GRACE_SRC_CUDA_BUCKET_SORT_H_

#include <cstdint>

#include "grace/cuda/device.h"

namespace grace::cuda {

// The counting sort takes this many pairs and buckets (else the caller uses the radix sort).
bool counting_sort_fits(int64_t n, int num_buckets);
// keys [n] -> order [n], position [n], offsets [num_buckets + 1]. Asynchronous, capturable.
void counting_sort(const int32_t* keys, int64_t n, int num_buckets, int32_t* order, int32_t* position,
                   int32_t* offsets, Stream stream);

// Programmatic dependent launch (griddepcontrol) runs on this GPU (compute capability >= 9.0).
bool pdl_supported();

}  // namespace grace::cuda

#endif  // GRACE_SRC_CUDA_BUCKET_SORT_H_
