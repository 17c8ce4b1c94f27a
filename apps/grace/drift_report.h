// Printing `grace drift`: the per-window table (and the strategies' table), JSON, and an HTML
// page with SVG charts (report/svg_charts.h).
#ifndef GRACE_APPS_DRIFT_REPORT_H_
#define GRACE_APPS_DRIFT_REPORT_H_

#include <string>
#include <vector>

#include "drift_run.h"

namespace grace::cli {

struct DriftReport {
  std::string placement;
  DriftOptions options;
  ModelSpec model;
  Topology topo;
  std::vector<DriftWindow> windows;
  std::vector<StrategyResult> strategies;
};

std::string drift_text(const DriftReport& r);
std::string drift_json(const DriftReport& r);
std::string drift_html(const DriftReport& r);

}  // namespace grace::cli

#endif  // GRACE_APPS_DRIFT_REPORT_H_
