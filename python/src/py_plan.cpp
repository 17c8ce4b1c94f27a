// grace._core: planning from top-k ids or per-expert loads, and the Placement class with its
// exports (physical_to_logical_map, SGLang, SGLang dispatch, vLLM) and grace JSON I/O.
#include <pybind11/stl.h>

#include <cmath>

#include "core/atomic_file.h"
#include "grace/batching.h"
#include "grace/error.h"
#include "grace/placement_io.h"
#include "grace/planner.h"
#include "grace/profile.h"
#include "grace/router.h"
#include "grace/serving.h"
#include "grace/topology.h"
#include "py_common.h"

namespace grace::py {
namespace {

using i64_array = pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast>;
using f64_array = pyb::array_t<double, pyb::array::c_style | pyb::array::forcecast>;

Topology make_topology(const std::string& spec, int slots_per_gpu) {
  Topology t = parse_topology(spec);
  if (slots_per_gpu > 0) t.slots_per_gpu = slots_per_gpu;
  return t;
}

Placement run_planner(const Profile& prof, const ModelSpec& model, const Topology& topo, const std::string& policy,
                      int redundant, uint64_t seed, int threads, Batching batching = Batching::kTrace,
                      int64_t batch_tokens = 4096, const std::string& target = "cover") {
  PlanOptions opt;
  opt.threads = threads;
  opt.target_router = target;
  opt.redundant_slots = redundant;
  opt.seed = seed;
  opt.batching = batching;
  opt.batch_tokens = batch_tokens;
  auto planner = make_planner(policy);
  pyb::gil_scoped_release nogil;
  return planner->plan(PlanContext{prof, model, topo, opt});
}

// seq_offsets: None (the whole array is one sequence) or int64 [sequences + 1], as a trace's
// seq_offsets.npy: 0 first, the token count last, strictly increasing. grace judges its candidate
// plans on the sample cut into the evaluator's batches (PlanOptions::batching), which pins each
// sequence to a GPU; without sequences it spreads the sampled tokens evenly over the GPUs.
Placement plan_topk(i64_array ids, const std::string& model_name, const std::string& topology,
                    const std::string& policy, int redundant, uint64_t seed, int slots_per_gpu, pyb::object seq_offsets,
                    const std::string& batching, int64_t batch_tokens, const std::string& target, int threads) {
  GRACE_INPUT_CHECK(ids.ndim() == 3, "plan: topk_ids must be [tokens, layers, k], got {} dimensions", ids.ndim());
  const int64_t T = ids.shape(0);
  const int L = int(ids.shape(1)), K = int(ids.shape(2));
  GRACE_INPUT_CHECK(T >= 1 && L >= 1 && K >= 1, "plan: topk_ids is empty");
  const int64_t* d = ids.data();
  int64_t maxid = -1;
  for (int64_t i = 0; i < T * L * K; ++i) {
    GRACE_INPUT_CHECK(d[i] >= 0 && d[i] < 65535,
                      "plan: topk_ids has id {} at flat index {} (expert ids are in [0, 65535), the model's experts)",
                      d[i], i);
    maxid = std::max(maxid, d[i]);
  }
  const ModelSpec model = resolve_model(model_name, L, int(maxid + 1), K);
  GRACE_INPUT_CHECK(model.moe_layers == L && maxid < model.experts,
                    "plan: topk_ids has {} layers and ids up to {}, "
                    "model '{}' has {} MoE layers x {} experts",
                    L, maxid, model.name, model.moe_layers, model.experts);
  GRACE_INPUT_CHECK(K <= model.top_k, "plan: topk_ids rows hold {} experts, model '{}' routes top-{}", K, model.name,
                    model.top_k);
  Trace tr;
  tr.num_layers = L;
  tr.top_k = K;
  tr.num_experts = model.experts;
  tr.ids.assign(d, d + T * L * K);
  GRACE_INPUT_CHECK(batch_tokens > 0, "plan: batch_tokens must be > 0 (got {})", batch_tokens);
  const Batching how = parse_batching(batching);
  check_router_name(target, "plan: target");
  tr.seq_offsets = resolve_seq_offsets(seq_offsets, T, "plan");
  Profile prof(L, model.experts, K, threads);
  prof.add(tr, threads);
  return run_planner(prof, model, make_topology(topology, slots_per_gpu), policy, redundant, seed, threads, how,
                     batch_tokens, target);
}

Placement plan_loads(f64_array loads, pyb::object coactivation, const std::string& model_name,
                     const std::string& topology, const std::string& policy, int redundant, uint64_t seed,
                     int slots_per_gpu, int threads) {
  GRACE_INPUT_CHECK(loads.ndim() == 2, "plan: loads must be [layers, experts], got {} dimensions", loads.ndim());
  const int L = int(loads.shape(0)), E = int(loads.shape(1));
  const ModelSpec model = resolve_model(model_name, L, E, 1);
  GRACE_INPUT_CHECK(model.moe_layers == L && model.experts == E,
                    "plan: loads are {} x {}, model '{}' has {} MoE "
                    "layers x {} experts",
                    L, E, model.name, model.moe_layers, model.experts);
  const double* w = loads.data();
  double mx = 0;
  for (int64_t i = 0; i < int64_t(L) * E; ++i) {
    GRACE_INPUT_CHECK(std::isfinite(w[i]) && w[i] >= 0, "plan: loads[{}][{}] = {} (must be finite and >= 0)", i / E,
                      i % E, w[i]);
    mx = std::max(mx, w[i]);
  }
  // Integer profile counts: integral loads stay as they are; others are scaled to <= 1e9.
  bool integral = true;
  for (int64_t i = 0; i < int64_t(L) * E && integral; ++i) integral = w[i] == std::floor(w[i]) && w[i] < 1e15;
  const double scale = integral || mx <= 0 ? 1.0 : 1e9 / mx;
  Profile prof(L, E, std::min(model.top_k, E));
  int64_t total = 0;
  for (int l = 0; l < L; ++l)
    for (int e = 0; e < E; ++e) {
      prof.layers[size_t(l)].load[size_t(e)] = int64_t(std::llround(w[size_t(l) * E + e] * scale));
      total += prof.layers[size_t(l)].load[size_t(e)];
    }
  prof.tokens = total / std::max<int64_t>(1, int64_t(L) * prof.top_k);
  if (!coactivation.is_none()) {
    f64_array c = coactivation.cast<f64_array>();
    GRACE_INPUT_CHECK(c.ndim() == 3 && c.shape(0) == L && c.shape(1) == E && c.shape(2) == E,
                      "plan: coactivation must be [layers, experts, experts] = [{}, {}, {}]", L, E, E);
    const double* a = c.data();
    const size_t n = size_t(L) * E * E;
    double cmx = 0;
    bool cintegral = true;
    for (size_t i = 0; i < n; ++i) {
      const double x = a[i];
      GRACE_INPUT_CHECK(std::isfinite(x) && x >= 0, "plan: coactivation[{}][{}][{}] = {} (must be finite and >= 0)",
                        i / (size_t(E) * E), i / E % E, i % E, x);
      cmx = std::max(cmx, x);
      cintegral = cintegral && x == std::floor(x) && x < 1e15;
    }
    // Its own scale, as the loads': counts stay counts; frequencies or probabilities (all < 1,
    // which rounded to 0 with the loads' scale) and values too large for int64 go to [0, 1e9].
    const double cscale = cintegral || cmx <= 0 ? 1.0 : 1e9 / cmx;
    for (int l = 0; l < L; ++l)
      for (int i = 0; i < E; ++i)
        for (int j = 0; j < E; ++j) {
          const double x = a[(size_t(l) * E + i) * E + j], y = a[(size_t(l) * E + j) * E + i];
          prof.layers[size_t(l)].affinity[size_t(i) * E + j] =
              i == j ? 0 : int64_t(std::llround(0.5 * (x + y) * cscale));
        }
  }
  return run_planner(prof, model, make_topology(topology, slots_per_gpu), policy, redundant, seed, threads);
}

ModelSpec model_of(const Placement& p, const std::string& model) {
  GRACE_INPUT_CHECK(!model.empty() || !p.model.empty(), "placement names no model: pass model=");
  if (model.empty() && p.model == "generic") return generic_model(p.num_layers, p.num_experts, 1);
  return load_model(model.empty() ? p.model : model);
}

// [MoE layers, P] (vLLM, EplbState.from_mapping); sglang: [dense + MoE layers, P] with the
// dense rows p % E first, as in the --init-expert-location file.
pyb::array_t<int64_t> phy2log_array(const Placement& p, bool sglang, const std::string& model) {
  const PhysicalLayout lay = physical_layout(p);
  const int dense = sglang ? model_of(p, model).dense_layers : 0, P = lay.num_physical();
  pyb::array_t<int64_t> out({dense + lay.num_layers, P});
  int64_t* o = out.mutable_data();
  for (int d = 0; d < dense; ++d)
    for (int q = 0; q < P; ++q) o[size_t(d) * P + q] = q % lay.num_experts;
  for (size_t i = 0; i < lay.phy2log.size(); ++i) o[size_t(dense) * P + i] = lay.phy2log[i];
  return out;
}

pyb::dict to_sglang(const Placement& p, const std::string& path, const std::string& model) {
  GRACE_INPUT_CHECK(path.size() > 5 && path.substr(path.size() - 5) == ".json",
                    "to_sglang: '{}': SGLang reads --init-expert-location as a file only if it ends in .json", path);
  const SglangExport e = export_sglang(p, model_of(p, model));
  write_file_atomic(path, e.json);
  pyb::dict d;
  d["path"] = path;
  d["rows"] = e.num_layers;
  d["num_physical"] = e.num_physical;
  d["redundant"] = e.redundant;
  d["ep_size"] = e.ep_size;
  d["spare_slots_filled"] = e.spare_slots_filled;
  d["flags"] = sglang_flags(e, path);
  return d;
}

}  // namespace

void init_plan(pyb::module_& m) {
  pyb::class_<Placement>(m, "Placement")
      .def_readonly("model", &Placement::model)
      .def_readonly("policy", &Placement::policy)
      .def_readonly("num_layers", &Placement::num_layers)
      .def_readonly("num_experts", &Placement::num_experts)
      .def_readonly("nodes", &Placement::nodes)
      .def_readonly("gpus_per_node", &Placement::gpus_per_node)
      .def_readonly("slots_per_gpu", &Placement::slots_per_gpu)
      .def_property_readonly("num_gpus", &Placement::num_gpus)
      .def(
          "instances",
          [](const Placement& p, int layer, int expert) {
            GRACE_INPUT_CHECK(layer >= 0 && layer < p.num_layers && expert >= 0 && expert < p.num_experts,
                              "instances: layer {} / expert {} out of range", layer, expert);
            std::vector<std::pair<int, double>> out;
            for (const auto& in : p.layers[size_t(layer)].experts[size_t(expert)].instances)
              out.push_back({in.gpu, in.weight});
            return out;
          },
          "[(gpu, weight)] of an expert, primary first")
      .def("physical_to_logical_map", &phy2log_array, pyb::arg("sglang") = false, pyb::arg("model") = "",
           "int64 [MoE layers, num_gpus x slots_per_gpu]: physical -> logical ids (vLLM's layout, spare slots "
           "filled with real replicas); sglang=True: [decoder layers, ...] with the dense layers' rows first")
      .def("to_sglang", &to_sglang, pyb::arg("path"), pyb::arg("model") = "",
           "Writes the --init-expert-location .json (rows for every decoder layer) and returns the flags it needs")
      .def(
          "to_sglang_dispatch",
          [](const Placement& p, const std::string& path, const std::string& model) {
            write_file_atomic(path, export_sglang_dispatch(p, model_of(p, model)));
          },
          pyb::arg("path"), pyb::arg("model") = "", "Writes the node-aware logical_to_rank_dispatch_physical_map")
      .def(
          "to_vllm",
          [](const Placement& p, const std::string& path) { write_file_atomic(path, export_vllm_initial_map(p)); },
          pyb::arg("path"), "Writes vLLM's initial_expert_map_path JSON (needs vllm-project/vllm#49572)")
      .def(
          "save", [](const Placement& p, const std::string& path) { save_placement(p, path); }, pyb::arg("path"))
      .def_static(
          "load", [](const std::string& path) { return load_placement(path); }, pyb::arg("path"))
      .def(
          "validate",
          [](const Placement& p, const std::string& model, const std::string& topology) {
            const Topology t = parse_topology(
                topology.empty() ? std::to_string(p.nodes) + "x" + std::to_string(p.gpus_per_node) : topology);
            validate_placement(p, t, model_of(p, model));
          },
          pyb::arg("model") = "", pyb::arg("topology") = "")
      .def("hash", [](const Placement& p) { return placement_hash(p); })
      .def("__repr__", [](const Placement& p) {
        return "<grace.Placement " + p.policy + " " + p.model + ": " + std::to_string(p.num_layers) + " layers x " +
               std::to_string(p.num_experts) + " experts on " + std::to_string(p.nodes) + "x" +
               std::to_string(p.gpus_per_node) + ", " + std::to_string(p.slots_per_gpu) + " slots per GPU>";
      });
  m.def("plan_topk", &plan_topk, pyb::arg("topk_ids"), pyb::arg("model"), pyb::arg("topology"), pyb::arg("policy"),
        pyb::arg("redundant"), pyb::arg("seed"), pyb::arg("slots_per_gpu") = 0, pyb::arg("seq_offsets") = pyb::none(),
        pyb::arg("batching") = "trace", pyb::arg("batch_tokens") = 4096, pyb::arg("target") = "cover",
        pyb::arg("threads") = 0);
  m.def("plan_loads", &plan_loads, pyb::arg("loads"), pyb::arg("coactivation"), pyb::arg("model"), pyb::arg("topology"),
        pyb::arg("policy"), pyb::arg("redundant"), pyb::arg("seed"), pyb::arg("slots_per_gpu") = 0,
        pyb::arg("threads") = 0);
  m.def("planner_names", &planner_names);
  m.def("model_preset_names", &model_preset_names);
  m.def(
      "model_info",
      [](const std::string& name) {
        const ModelSpec s = load_model(name);
        pyb::dict d;
        d["name"] = s.name;
        d["moe_layers"] = s.moe_layers;
        d["dense_layers"] = s.dense_layers;
        d["experts"] = s.experts;
        d["top_k"] = s.top_k;
        return d;
      },
      pyb::arg("model"), "Architecture facts of a preset or model JSON (dict)");
}

}  // namespace grace::py
