// The engine's outputs against the single-process reference (check_outputs in
// grace/engine/engine.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "grace/engine/comm.h"
#include "grace/engine/engine.h"

namespace grace::engine {

void check_outputs(Comm& world, const EngineInputs& in, const EngineOptions& opt, int64_t per_rank, double tolerance,
                   EngineResult& r) {
  const int64_t H = in.model.hidden;
  const int64_t n = std::min<int64_t>(per_rank, int64_t(r.out_tokens.size()));
  const std::vector<int64_t> tokens(r.out_tokens.begin(), r.out_tokens.begin() + n);
  double md = 0, mr = 0;
  bool finite = true;
  if (n > 0) {
    const std::vector<float> ref = run_reference(in, opt, tokens);
    for (int64_t i = 0; i < n * H; ++i) {
      const double got = r.out_hidden[size_t(i)];
      finite = finite && std::isfinite(got);
      md = std::max(md, std::fabs(got - double(ref[size_t(i)])));
      mr = std::max(mr, std::fabs(double(ref[size_t(i)])));
    }
  }
  double err[1] = {finite ? (mr > 0 ? md / mr : md) : INFINITY};
  world.allreduce_max(err, 1);
  int64_t cnt[1] = {n};
  world.allreduce_sum(cnt, 1);
  r.checked_tokens = cnt[0];
  r.check_rel_err = err[0];
  r.check_tolerance = tolerance;
  r.check_ok = err[0] <= tolerance;
}

}  // namespace grace::engine
