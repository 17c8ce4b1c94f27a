// Inline-SVG charts (see svg_charts.h). Sizes are in SVG user units (px at 100% zoom).
#include "report/svg_charts.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace grace::svg {
namespace {

// Axis ticks 0, step, 2 step, ... covering vmax, step in {1, 2, 5} x 10^k, about 5 ticks.
std::vector<double> nice_ticks(double vmax) {
  if (!(vmax > 0) || !std::isfinite(vmax)) vmax = 1;  // a non-finite maximum gets a unit axis, never no ticks
  double raw = vmax / 5, mag = std::pow(10.0, std::floor(std::log10(raw))), step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (int i = 0; i * step < vmax * (1 + 1e-9) + step; ++i) {
    t.push_back(i * step);
    if (i * step >= vmax) break;
  }
  return t;
}

std::string num(double v) {
  if (v == 0) return "0";
  double a = std::fabs(v);
  if (a >= 100) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

// A tick label with as many decimals as the tick step needs.
std::string tick_label(double v, const std::vector<double>& ticks) {
  double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
  return fmt::format("{:.{}f}", v, decimals);
}

std::string open_svg(double w, double h, const std::string& title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "role=\"img\" aria-label=\"{2}\"><title>{2}</title>"
      "<text x=\"{3}\" y=\"20\" class=\"ctitle\" text-anchor=\"middle\">{2}</text>",
      w, h, escape(title), w / 2);
}

struct Rgb {
  double r, g, b;
};
Rgb mix(Rgb a, Rgb b, double f) { return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f}; }
std::string hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", int(c.r + 0.5), int(c.g + 0.5), int(c.b + 0.5)); }

std::string diverging(double v, double neutral, double vmax) {
  const Rgb lo{33, 102, 172}, mid{247, 247, 247}, hi{178, 24, 43};
  if (v <= neutral) return hex(mix(lo, mid, neutral > 0 ? std::clamp(v / neutral, 0.0, 1.0) : 1.0));
  double f = vmax > neutral ? std::clamp((v - neutral) / (vmax - neutral), 0.0, 1.0) : 1.0;
  return hex(mix(mid, hi, f));
}

}  // namespace

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

const char* palette(int i) {
  static const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return kColors[i % 10];
}

std::string line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<Series>& series) {
  const double W = 900, H = 360, L = 70, R = 290, T = 40, B = 50, pw = W - L - R, ph = H - T - B;
  size_t n = 0;
  double vmax = 0;
  for (const auto& s : series) {
    n = std::max(n, s.values.size());
    for (double v : s.values) vmax = std::max(vmax, v);
  }
  auto ticks = nice_ticks(vmax);
  double ymax = ticks.back() > 0 ? ticks.back() : 1;
  auto X = [&](size_t i) { return L + (n > 1 ? pw * double(i) / double(n - 1) : pw / 2); };
  auto Y = [&](double v) { return T + ph - ph * v / ymax; };
  std::string o = open_svg(W, H, title);
  for (double t : ticks) {
    o += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" class=\"grid\"/>", L, Y(t), L + pw, Y(t));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>", L - 6, Y(t) + 4,
                     tick_label(t, ticks));
  }
  size_t step = n > 30 ? (n + 14) / 15 : (n > 15 ? 2 : 1);
  for (size_t i = 0; i < n; i += step)
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>", X(i), T + ph + 16,
                     i);
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"axis\"/>", L, T, T + ph);
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" class=\"axis\"/>", L, T + ph, L + pw);
  o += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>", L + pw / 2, H - 10,
                   escape(x_label));
  o += fmt::format(
      "<text x=\"16\" y=\"{0}\" class=\"label\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\">{1}</text>",
      T + ph / 2, escape(y_label));
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    std::string pts;
    for (size_t i = 0; i < s.values.size(); ++i) pts += fmt::format("{:.1f},{:.1f} ", X(i), Y(s.values[i]));
    o += fmt::format("<g class=\"series\"><polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                     pts, palette(int(k)));
    for (size_t i = 0; i < s.values.size(); ++i)
      o += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"><title>{}, layer {}: {}</title></circle>", X(i),
          Y(s.values[i]), palette(int(k)), escape(s.name), i, num(s.values[i]));
    o += "</g>";
    double ly = T + 8 + 20.0 * double(k);
    o += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"14\" height=\"4\" fill=\"{}\"/>", L + pw + 16, ly - 4,
                     palette(int(k)));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"legend\">{}</text>", L + pw + 36, ly + 1, escape(s.name));
  }
  return o + "</svg>";
}

std::string xy_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                     const std::vector<XYSeries>& series, const std::string& x_unit) {
  const double W = 900, H = 360, L = 70, R = 290, T = 40, B = 50, pw = W - L - R, ph = H - T - B;
  double xmax = 0, ymax_v = 0;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      xmax = std::max(xmax, s.x[i]);
      ymax_v = std::max(ymax_v, s.y[i]);
    }
  auto xticks = nice_ticks(xmax), yticks = nice_ticks(ymax_v);
  double xm = xticks.back() > 0 ? xticks.back() : 1, ym = yticks.back() > 0 ? yticks.back() : 1;
  auto X = [&](double v) { return L + pw * v / xm; };
  auto Y = [&](double v) { return T + ph - ph * v / ym; };
  std::string o = open_svg(W, H, title);
  for (double t : yticks) {
    o += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" class=\"grid\"/>", L, Y(t), L + pw, Y(t));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>", L - 6, Y(t) + 4,
                     tick_label(t, yticks));
  }
  for (double t : xticks)
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>", X(t), T + ph + 16,
                     tick_label(t, xticks));
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"axis\"/>", L, T, T + ph);
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" class=\"axis\"/>", L, T + ph, L + pw);
  o += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>", L + pw / 2, H - 10,
                   escape(x_label));
  o += fmt::format(
      "<text x=\"16\" y=\"{0}\" class=\"label\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\">{1}</text>",
      T + ph / 2, escape(y_label));
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const size_t n = std::min(s.x.size(), s.y.size());
    std::string pts;
    for (size_t i = 0; i < n; ++i) pts += fmt::format("{:.1f},{:.1f} ", X(s.x[i]), Y(s.y[i]));
    o += fmt::format("<g class=\"series\"><polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                     pts, palette(int(k)));
    for (size_t i = 0; i < n; ++i)
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"><title>{}, {}{}: {}</title></circle>",
                       X(s.x[i]), Y(s.y[i]), palette(int(k)), escape(s.name), num(s.x[i]), escape(x_unit), num(s.y[i]));
    o += "</g>";
    double ly = T + 8 + 20.0 * double(k);
    o += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"14\" height=\"4\" fill=\"{}\"/>", L + pw + 16, ly - 4,
                     palette(int(k)));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"legend\">{}</text>", L + pw + 36, ly + 1, escape(s.name));
  }
  return o + "</svg>";
}

std::string stacked_bars(const std::string& title, const std::string& x_label, const std::vector<std::string>& parts,
                         const std::vector<StackedBar>& bars, const std::string& marker_name) {
  const double W = 900, L = 280, R = 90, T = 62, bar_h = 22, gap = 10, B = 50;
  const double H = T + double(bars.size()) * (bar_h + gap) + B, pw = W - L - R;
  double vmax = 0;
  for (const auto& b : bars) {
    double s = 0;
    for (double p : b.parts) s += p;
    vmax = std::max({vmax, s, b.marker});
  }
  auto ticks = nice_ticks(vmax);
  double xmax = ticks.back() > 0 ? ticks.back() : 1;
  auto X = [&](double v) { return L + pw * v / xmax; };
  const double plot_bottom = T + double(bars.size()) * (bar_h + gap);
  std::string o = open_svg(W, H, title);
  // Legend row under the title.
  double lx = L;
  for (size_t k = 0; k < parts.size(); ++k) {
    o += fmt::format("<rect x=\"{:.1f}\" y=\"32\" width=\"12\" height=\"12\" fill=\"{}\"/>", lx, palette(int(k)));
    o += fmt::format("<text x=\"{:.1f}\" y=\"42\" class=\"legend\">{}</text>", lx + 16, escape(parts[k]));
    lx += 30 + 7.5 * double(parts[k].size());
  }
  if (!marker_name.empty()) {
    o += fmt::format("<line x1=\"{0:.1f}\" y1=\"31\" x2=\"{0:.1f}\" y2=\"45\" class=\"marker\"/>", lx + 4);
    o += fmt::format("<text x=\"{:.1f}\" y=\"42\" class=\"legend\">{}</text>", lx + 12, escape(marker_name));
  }
  for (double t : ticks) {
    o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" class=\"grid\"/>", X(t), T - 4,
                     plot_bottom);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>", X(t),
                     plot_bottom + 16, tick_label(t, ticks));
  }
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"axis\"/>", L, T - 4, plot_bottom);
  o += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>", L + pw / 2, H - 10,
                   escape(x_label));
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& b = bars[i];
    double y = T + double(i) * (bar_h + gap), x = 0;
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>", L - 8,
                     y + bar_h / 2 + 4, escape(b.label));
    for (size_t k = 0; k < b.parts.size(); ++k) {
      o += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: {} {}</title></rect>",
          X(x), y, X(x + b.parts[k]) - X(x), bar_h, palette(int(k)), escape(b.label),
          escape(k < parts.size() ? parts[k] : ""), num(b.parts[k]));
      x += b.parts[k];
    }
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\">{}</text>", X(x) + 6, y + bar_h / 2 + 4, num(x));
    if (b.marker >= 0)
      o += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" class=\"marker\"><title>{3}: "
          "{4}</title></line>",
          X(b.marker), y - 3, y + bar_h + 3, escape(marker_name), num(b.marker));
  }
  return o + "</svg>";
}

std::string heatmap(const std::string& title, const std::string& x_label, const std::string& y_label,
                    const std::vector<std::vector<double>>& values, double neutral, double vmax, int group,
                    const std::string& value_name) {
  const size_t nx = values.size(), ny = nx ? values[0].size() : 0;
  const double cw = std::clamp(640.0 / std::max<size_t>(1, nx), 8.0, 28.0),
               ch = std::clamp(200.0 / std::max<size_t>(1, ny), 6.0, 24.0);
  const double L = 70, T = 36, pw = cw * double(nx), ph = ch * double(ny), R = 120, B = 48;
  const double W = std::max(L + pw + R, 420.0), H = T + std::max(ph, 80.0) + B;
  std::string o = open_svg(W, H, title);
  for (size_t x = 0; x < nx; ++x)
    for (size_t y = 0; y < ny; ++y)
      o += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{} {}, {} {}: {} "
          "{}</title></rect>",
          L + cw * double(x), T + ch * double(y), cw, ch, diverging(values[x][y], neutral, vmax), escape(x_label), x,
          escape(y_label), y, escape(value_name), num(values[x][y]));
  if (group > 0)
    for (size_t y = size_t(group); y < ny; y += size_t(group))
      o += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"sep\"/>", L - 4,
                       T + ch * double(y), L + pw, T + ch * double(y));
  o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" class=\"axis\"/>", L, T,
                   pw, ph);
  size_t step = nx > 30 ? (nx + 14) / 15 : (nx > 15 ? 2 : 1);
  for (size_t x = 0; x < nx; x += step)
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
                     L + cw * (double(x) + 0.5), T + ph + 14, x);
  size_t ystep = ch < 12 ? 2 : 1;
  for (size_t y = 0; y < ny; y += ystep)
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>", L - 8,
                     T + ch * (double(y) + 0.5) + 4, y);
  o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>", L + pw / 2, H - 10,
                   escape(x_label));
  o += fmt::format(
      "<text x=\"18\" y=\"{0:.1f}\" class=\"label\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
      "{0:.1f})\">{1}</text>",
      T + ph / 2, escape(y_label));
  // Colour scale.
  const double sx = L + pw + 30, sh = std::max(ph, 80.0);
  const int steps = 24;
  for (int i = 0; i < steps; ++i) {
    double v = vmax * (1.0 - (i + 0.5) / steps);
    o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"14\" height=\"{:.2f}\" fill=\"{}\"/>", sx,
                     T + sh * i / steps, sh / steps + 0.3, diverging(v, neutral, vmax));
  }
  for (double v : {0.0, neutral, vmax})
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\">{}</text>", sx + 20, T + sh * (1 - v / vmax) + 4,
                     num(v));
  o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\">{}</text>", sx - 6, T - 8, escape(value_name));
  return o + "</svg>";
}

}  // namespace grace::svg
