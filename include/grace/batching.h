// Batching: how a trace's tokens form batches, in the evaluator (grace/evaluate.h) and the
// engine (grace/engine/engine.h) alike; sequences are pinned to GPUs the same way in both
// (grace/token_pinning.h). Definitions in src/eval/eval_report.cpp; the balanced cut is
// src/eval/step_batcher.h.
#ifndef GRACE_BATCHING_H_
#define GRACE_BATCHING_H_

#include <cstdint>
#include <string>

namespace grace {

// How the tokens are cut into batches (a batch = one step of every MoE layer on every GPU).
//   kTrace:    batch_tokens consecutive tokens of the trace, each on its sequence's GPU, so a
//              batch of a few long sequences comes from a few GPUs (and often from one node).
//   kBalanced: every GPU gives each batch batch_tokens / GPUs tokens (at least 1) of its own
//              sequences, in order, as data-parallel attention serves: every rank runs its own
//              requests at every step. A GPU whose queue is short gives what it has only where
//              the others would otherwise wait past GPUs x batch_tokens queued tokens, and at
//              the end (the last batch holds what is left once that is <= batch_tokens).
// Token -> GPU pinning and every token's routing input are the same; only which tokens share
// a batch differs, so per-batch load, NIC balance and time do.
enum class Batching { kTrace, kBalanced };
Batching parse_batching(const std::string& name);  // "trace" | "balanced"; InputError otherwise
const char* batching_name(Batching b);
// The most batches `tokens` tokens can make (kBalanced: a batch holds at least batch_tokens /
// gpus tokens); what a caller sizes the per-batch records by.
int64_t max_batches(int64_t tokens, int64_t batch_tokens, Batching b, int gpus);

}  // namespace grace

#endif  // GRACE_BATCHING_H_
