// Small inline-SVG chart builders for the HTML report: line charts (by index or x-y), horizontal
// stacked bars and a heatmap. Output is well-formed XML (every element closed, text escaped), with axes, labels,
// units and legends, and native <title> tooltips (no script). Internal to the report module.
#ifndef GRACE_REPORT_SVG_CHARTS_H_
#define GRACE_REPORT_SVG_CHARTS_H_

#include <string>
#include <vector>

namespace grace::svg {

// Escapes &, <, >, " and ' for XML text and attributes.
std::string escape(const std::string& s);

// The i-th colour of a qualitative palette (cycles).
const char* palette(int i);

struct Series {
  std::string name;
  std::vector<double> values;  // y per x index
};
// Lines over x = 0..n-1 (n = longest series), y from 0.
std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series);

struct XYSeries {
  std::string name;
  std::vector<double> x, y;  // points in order (same length)
};
// Lines through (x, y) points, both axes from 0; `x_unit` follows x values in tooltips.
std::string xy_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                     const std::vector<XYSeries>& series, const std::string& x_unit = "");

struct StackedBar {
  std::string label;
  std::vector<double> parts;  // one per part name
  double marker = -1;         // < 0: none
};
// One horizontal bar per entry, parts stacked left to right; an optional marker per bar.
std::string stacked_bars(const std::string& title, const std::string& x_label, const std::vector<std::string>& parts,
                         const std::vector<StackedBar>& bars, const std::string& marker_name);

// values[row][col]; rows drawn as columns of cells (x = row index), cols as cell rows (y).
// Diverging colour: 0 blue, `neutral` white, vmax red. `group` > 0 draws a separator every
// `group` y-cells (node boundaries).
std::string heatmap(const std::string& title, const std::string& x_label, const std::string& y_label,
                    const std::vector<std::vector<double>>& values, double neutral, double vmax, int group,
                    const std::string& value_name);

}  // namespace grace::svg

#endif  // GRACE_REPORT_SVG_CHARTS_H_
