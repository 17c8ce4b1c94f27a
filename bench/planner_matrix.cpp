// planner_matrix: the rows of `grace compare` (src/experiment) chosen on the command line, printed
// as one tab-separated line each: cross-node traffic, GPU load max/mean, simulated MoE-layer time,
// expert memory, planning time and the busiest node NIC over the mean (last, so that readers of
// the earlier columns by position keep working). The measurement behind the planner's results table
// (scripts/planner-matrix.sh runs it over every case).
//
//   planner_matrix --model M --topology T --trace F... [--plan-trace F...] [--batch-tokens B]
//                  [--seed S] [--batching trace|balanced] [--split even-odd|halves] [--foresight]
//                  [--node-load-limit X] [--node-kicks K] ROW...
//   ROW = planner[@target]/router/comm[/redundant]    e.g. grace/cover/hierarchical/0,
//         grace@sglang-static/sglang-static/hierarchical (planned for that router)
// Without --plan-trace, even-indexed sequences plan and odd-indexed ones are evaluated (--split
// halves: each trace's first half of sequences plans, its second half is evaluated).
// Study options (PM_CEILING=1 scripts/planner-matrix.sh), never results: --foresight plans on the traffic that
// is evaluated; --node-load-limit X plans grace under that one node load limit; --node-kicks K gives
// every node split K kicks (0: none; PlanOptions::node_kicks).
#include <cstdio>
#include <string>
#include <vector>

#include "grace/compare.h"
#include "grace/error.h"
#include "grace/experiment.h"

using namespace grace;

int main(int argc, char** argv) {
  try {
    CompareOptions o;
    o.model = "deepseek-v2-lite";
    std::vector<std::string> rows;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto next = [&]() -> std::string {
        GRACE_INPUT_CHECK(i + 1 < argc, "{} needs a value", a);
        return argv[++i];
      };
      if (a == "--model")
        o.model = next();
      else if (a == "--topology")
        o.topology = next();
      else if (a == "--trace")
        o.traces.push_back(next());
      else if (a == "--plan-trace")
        o.plan_traces.push_back(next());
      else if (a == "--batch-tokens")
        o.batch_tokens = std::stoll(next());
      else if (a == "--seed")
        o.seed = std::stoull(next());
      else if (a == "--batching")
        o.batching = parse_batching(next());
      else if (a == "--split")
        o.split = parse_split_rule(next());
      else if (a == "--foresight")
        o.foresight = true;
      else if (a == "--node-load-limit")
        o.node_load_limit = std::stod(next());
      else if (a == "--node-kicks")
        o.node_kicks = std::stoi(next());
      else
        rows.push_back(a);
    }
    for (const auto& row : rows) {
      std::vector<std::string> f;
      size_t st = 0;
      for (size_t p; (p = row.find('/', st)) != std::string::npos; st = p + 1) f.push_back(row.substr(st, p - st));
      f.push_back(row.substr(st));
      GRACE_INPUT_CHECK(f.size() == 3 || f.size() == 4, "row '{}': want planner/router/comm[/redundant]", row);
      // planner@target: the plan made for that router (PlanOptions::target_router).
      const size_t at = f[0].find('@');
      o.combinations.push_back({f[0].substr(0, at), f[1], parse_comm_scheme(f[2]), f.size() == 4 ? std::stoi(f[3]) : -1,
                                at == std::string::npos ? "" : f[0].substr(at + 1)});
    }
    CompareResult r = run_compare(o);
    std::printf("row\tinter_MB\tload_max_mean\tlayer_us\tinstances_per_gpu\textra_mem_pct\tplan_s\tnic_max_mean\n");
    for (size_t i = 0; i < r.rows.size(); ++i) {
      const CompareRow& row = r.rows[i];
      GRACE_INPUT_CHECK(row.ok, "row '{}': {}", rows[i], row.skipped);
      std::printf("%s\t%.2f\t%.3f\t%.1f\t%.2f\t%.1f\t%.3f\t%.3f\n", rows[i].c_str(), row.inter_mb_per_batch,
                  row.load_max_mean, row.time.total_us, row.instances_per_gpu, row.extra_memory_pct, row.plan_seconds,
                  row.nic_max_mean);
    }
    return 0;
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "planner_matrix: error: %s\n", ex.what());
    return 2;
  }
}
