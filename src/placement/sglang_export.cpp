// SGLang exports (serving.h): the --init-expert-location map with rows for every decoder layer,
// the flags it needs, and the node-aware static dispatch map.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/serving.h"
#include "placement/json_rows.h"

namespace grace {
namespace {

void check_model(const Placement& p, const ModelSpec& model) {
  GRACE_INPUT_CHECK(p.num_layers == model.moe_layers && p.num_experts == model.experts,
                    "export: placement has {} MoE layers x {} experts but model '{}' has {} x {}", p.num_layers,
                    p.num_experts, model.name, model.moe_layers, model.experts);
}

// Apportions `n` ranks over candidates with shares `w` (summing to > 0): largest remainder,
// ties to the lower index. Returns the count per candidate.
std::vector<int> apportion(int n, const std::vector<double>& w) {
  double total = 0;
  for (double x : w) total += x;
  std::vector<int> cnt(w.size(), 0);
  std::vector<std::pair<double, int>> rem;
  int given = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double exact = n * w[i] / total;
    cnt[i] = int(std::floor(exact));
    given += cnt[i];
    rem.push_back({-(exact - cnt[i]), int(i)});
  }
  std::sort(rem.begin(), rem.end());
  for (int k = 0; given < n; ++k, ++given) ++cnt[size_t(rem[size_t(k) % rem.size()].second)];
  return cnt;
}

}  // namespace

SglangExport export_sglang(const Placement& p, const ModelSpec& model) {
  check_model(p, model);
  const PhysicalLayout lay = physical_layout(p);
  SglangExport out;
  out.dense_layers = model.dense_layers;
  out.num_layers = model.dense_layers + model.moe_layers;
  out.num_logical = lay.num_experts;
  out.num_physical = lay.num_physical();
  out.redundant = lay.redundant();
  out.ep_size = lay.num_gpus();
  out.spare_slots_filled = lay.spare_slots_filled;
  const int P = out.num_physical;
  std::vector<int32_t> rows(size_t(out.num_layers) * P);
  for (int d = 0; d < out.dense_layers; ++d)  // dense layers: never read, any valid map
    for (int q = 0; q < P; ++q) rows[size_t(d) * P + q] = q % lay.num_experts;
  std::copy(lay.phy2log.begin(), lay.phy2log.end(), rows.begin() + size_t(out.dense_layers) * P);
  out.json = "{\"physical_to_logical_map\": ";
  detail::append_int_matrix(out.json, rows.data(), out.num_layers, P, "  ");
  out.json += "}\n";
  return out;
}

std::string sglang_flags(const SglangExport& e, const std::string& path) {
  return fmt::format(
      "--init-expert-location {} --ep-num-redundant-experts {} --ep-size {} "
      "--ep-dispatch-algorithm static",
      path, e.redundant, e.ep_size);
}

std::string export_sglang_dispatch(const Placement& p, const ModelSpec& model) {
  check_model(p, model);
  const PhysicalLayout lay = physical_layout(p);
  const int G = lay.num_gpus(), E = lay.num_experts, P = lay.num_physical(), gpn = lay.gpus_per_node;
  const int L = model.dense_layers + model.moe_layers;
  std::vector<int32_t> map(size_t(G) * L * E, -1);  // [rank][layer][expert]
  auto at = [&](int g, int l, int e) -> int32_t& { return map[(size_t(g) * L + l) * E + e]; };
  for (int d = 0; d < model.dense_layers; ++d)  // the trivial row p % E: expert e is physical e
    for (int g = 0; g < G; ++g)
      for (int e = 0; e < E; ++e) at(g, d, e) = e;
  for (int l = 0; l < lay.num_layers; ++l) {
    const int32_t* row = lay.row(l);
    const auto& experts = p.layers[size_t(l)].experts;
    for (int e = 0; e < E; ++e) {
      // Physical copies with their routing shares (an instance's weight; a filled spare copy,
      // not in the placement, gets an equal share 1 / instances).
      std::vector<int> copies;
      std::vector<double> share;
      for (int q = 0; q < P; ++q) {
        if (row[q] != e) continue;
        copies.push_back(q);
        double w = 1.0 / double(experts[size_t(e)].instances.size());
        for (const auto& in : experts[size_t(e)].instances)
          if (in.gpu == lay.gpu_of(q)) w = in.weight;
        share.push_back(w);
      }
      const int dl = model.dense_layers + l;
      for (int node = 0; node < lay.nodes; ++node) {
        std::vector<int> need;  // GPUs of this node without their own copy
        for (int g = node * gpn; g < (node + 1) * gpn; ++g) {
          for (int q : copies)
            if (lay.gpu_of(q) == g) {
              at(g, dl, e) = q;
              break;
            }
          if (at(g, dl, e) < 0) need.push_back(g);
        }
        if (need.empty()) continue;
        std::vector<int> cand;
        std::vector<double> w;
        for (size_t i = 0; i < copies.size(); ++i)
          if (lay.gpu_of(copies[i]) / gpn == node) cand.push_back(copies[i]), w.push_back(share[i]);
        if (cand.empty()) cand = copies, w = share;
        const std::vector<int> cnt = apportion(int(need.size()), w);
        size_t k = 0;
        for (size_t i = 0; i < cand.size(); ++i)
          for (int c = 0; c < cnt[i]; ++c) at(need[k++], dl, e) = cand[i];
      }
    }
  }
  std::string s = "{\"logical_to_rank_dispatch_physical_map\": [";
  for (int g = 0; g < G; ++g) {
    s += g ? ",\n " : "\n ";
    detail::append_int_matrix(s, map.data() + size_t(g) * L * E, L, E, "  ");
  }
  return s + "]}\n";
}

}  // namespace grace
