// run_memory_sweep (see memory_sweep.h).
#include "experiment/memory_sweep.h"

#include <fmt/core.h>

#include "grace/expert_memory.h"

namespace grace::experiment {

std::vector<SweepPoint> run_memory_sweep(RowRunner& runner, const std::vector<double>& pcts,
                                         const std::vector<Combination>& combos, int experts, int num_gpus,
                                         const std::function<void(const std::string&)>& say) {
  std::vector<SweepPoint> out;
  const size_t n = pcts.size() * combos.size();
  for (double pct : pcts) {
    for (const auto& c : combos) {
      SweepPoint pt;
      pt.requested_pct = pct;
      Combination combo = c;
      combo.redundant = redundant_slots_for_extra_pct(pct, experts, num_gpus);
      pt.row = runner.run(combo);
      const std::string tag =
          fmt::format("sweep [{}/{}] {:g}% extra memory: {}", out.size() + 1, n, pct, pt.row.combo.label());
      if (!pt.row.ok)
        say(tag + ": skipped: " + pt.row.skipped);
      else
        say(fmt::format("{}: cross-node {:.2f} MB/batch, load max/mean {:.2f}, {:.1f} us/layer", tag,
                        pt.row.inter_mb_per_batch, pt.row.load_max_mean, pt.row.time.total_us));
      out.push_back(std::move(pt));
    }
  }
  return out;
}

}  // namespace grace::experiment
