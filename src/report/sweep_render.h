// Renderings of the memory sweep (CompareResult::memory_sweep) for the text, Markdown, HTML and
// JSON reports. Each returns "" when the sweep did not run. Internal to the report module.
#ifndef GRACE_REPORT_SWEEP_RENDER_H_
#define GRACE_REPORT_SWEEP_RENDER_H_

#include <string>

#include "grace/compare.h"

namespace grace::report {

std::string sweep_text(const CompareResult& r);
std::string sweep_markdown(const CompareResult& r);
std::string sweep_html(const CompareResult& r);  // a <section> with the table and three charts
std::string sweep_json(const CompareResult& r);  // a JSON array (serialised)

// Slots granted for a point, in % of one copy per expert: 100 * redundant / experts.
double granted_extra_pct(const CompareResult& r, const SweepPoint& p);

}  // namespace grace::report

#endif  // GRACE_REPORT_SWEEP_RENDER_H_
