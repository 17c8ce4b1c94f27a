// The --batching option's help, shared by evaluate, simulate, compare, run and drift (grace/batching.h,
// Batching).
#ifndef GRACE_APPS_BATCHING_OPTION_H_
#define GRACE_APPS_BATCHING_OPTION_H_

namespace grace::cli {

inline constexpr const char* kBatchingHelp =
    "How tokens form batches: trace (consecutive tokens of the trace, each on its sequence's GPU, so a batch of few "
    "long sequences comes from few GPUs) | balanced (every GPU gives batch-tokens / GPUs tokens of its own sequences "
    "per batch, as data-parallel attention serves)";

}  // namespace grace::cli

#endif  // GRACE_APPS_BATCHING_OPTION_H_
