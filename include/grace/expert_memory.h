// Expert memory of a placement: how much HBM its expert instances take, relative to one copy
// of every expert. Used to compare plans at equal memory (grace compare, grace plan).
#ifndef GRACE_EXPERT_MEMORY_H_
#define GRACE_EXPERT_MEMORY_H_

namespace grace {

struct Placement;

struct ExpertMemory {
  // Expert instances a GPU holds per MoE layer, for the fullest GPU: max over GPUs of (the
  // GPU's instances summed over layers / layers). The HBM every GPU must reserve, in experts.
  double instances_per_gpu = 0;
  // Instances beyond one per expert over all layers, in % of one copy per expert
  // (100 * (instances - layers * experts) / (layers * experts)).
  double extra_pct = 0;
};

ExpertMemory expert_memory(const Placement& p);

// Extra expert slots over the cluster (PlanOptions::redundant_slots) for `pct` % more expert
// memory than one copy per expert: round(pct / 100 * experts), rounded up so that experts +
// slots is a multiple of the GPU count (every GPU has the same number of slots).
int redundant_slots_for_extra_pct(double pct, int experts, int num_gpus);

}  // namespace grace

#endif  // GRACE_EXPERT_MEMORY_H_
