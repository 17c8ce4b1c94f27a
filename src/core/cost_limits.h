// Resource-cost limits: what an input implies, estimated before the work starts.
//
// Fields are range-checked one by one where they are read; products of fields are what cost
// memory and time (GPUs x slots, layers x experts, tokens x layers x k, topics x layers x
// experts). Each command estimates those products from its inputs and checks them here, so an
// input that would need more than the machine has fails at once with one line naming the
// product and the limit, instead of dying with std::bad_alloc or running for hours.
//
// Limits (docs/reliability.md lists where each is used):
//   memory  estimated bytes <= memory_limit_bytes(): GRACE_MEMORY_LIMIT_MB when set, else 3/4
//           of the machine's physical memory.
//   counts  a product of counts <= a fixed limit given by the caller (the kMax* below).
#ifndef GRACE_CORE_COST_LIMITS_H_
#define GRACE_CORE_COST_LIMITS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

namespace grace {

// Physical expert slots over all layers (layers x GPUs x slots per GPU): every placement,
// export and router table holds a few bytes per slot. 2^24 is 16x DeepSeek-V3 (61 layers) on
// 1024 GPUs x 16 slots.
inline constexpr int64_t kMaxPhysicalSlots = int64_t(1) << 24;
// GPUs x experts x layers: the planners' and routers' per-layer tables and work. Planning
// time grows about linearly with it: `plan` of deepseek-v2-lite (26 x 64) on 1024x8 GPUs
// (13.6M) takes 6.3 s; 1024x64 GPUs (109M) took minutes. 2^24 = 16.8M admits DeepSeek-V3
// (58 x 256) on 1024 GPUs (15.2M).
inline constexpr int64_t kMaxGpuExpertLayers = int64_t(1) << 24;

// Spare slots x experts: the export fills every slot a placement leaves empty with a real
// replica, one scan of the layer's experts per slot. 2^32 (a few seconds) admits DeepSeek-V3
// (61 x 256) on 1024 GPUs x 16 slots with every slot empty (2.6e8).
inline constexpr int64_t kMaxSpareFillWork = int64_t(1) << 32;

// Re-plans x GPUs x experts x layers: `drift` re-plans every window for its replay, and its
// --strategies re-plan too (`replan` every window, `eplb:K` / `grace:K` every K-th, `static`
// never). At 2x4 deepseek-v2-lite (26 x 64, 8 GPUs) one re-plan took ~45 ms, so 2^28 (~20k
// such re-plans) is ~15 minutes; `--window 1` on a 1M-token trace (1M windows, 13 hours) is
// refused at once.
inline constexpr int64_t kMaxDriftWork = int64_t(1) << 28;

// The memory budget in bytes (see above).
int64_t memory_limit_bytes();

// One factor of a product: its name and value ("tokens", 99999999999).
using CostFactor = std::pair<const char*, int64_t>;

// Throws InputError "<who>: <a> x <b> x ... = <n1> x <n2> x ... = <product> is over the limit
// of <limit> (<why>)" when the product of the factors exceeds `limit` (overflow counts as over).
void check_count(const std::string& who, std::initializer_list<CostFactor> factors, int64_t limit, const char* why);

// The same for bytes: the product of the factors x bytes_each must fit memory_limit_bytes().
void check_memory(const std::string& who, std::initializer_list<CostFactor> factors, int64_t bytes_each);

// The cost of planning `model` on `topo` with `redundant_slots` (< 0: one per GPU): GPUs x
// experts x layers <= kMaxGpuExpertLayers and layers x GPUs x slots <= kMaxPhysicalSlots.
// `plan` and `compare` call it before profiling.
struct ModelSpec;
struct Topology;
void check_plan_cost(const ModelSpec& model, const Topology& topo, int64_t redundant_slots);

// Product of the factors, saturating at INT64_MAX (a negative factor counts as 0).
int64_t cost_product(std::initializer_list<CostFactor> factors);

}  // namespace grace

#endif  // GRACE_CORE_COST_LIMITS_H_
