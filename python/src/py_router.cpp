// grace._core.Router: routes top-k ids through a placement with a named router, in C++ with
// the GIL released, and returns physical expert ids (the SGLang / vLLM slot numbering of
// Placement.physical_to_logical_map) or GPU ids.
//
// Input ids: int32 or int64, [tokens, k] for one `layer`, or [tokens, layers, k] for all.
// src_gpu: one int for every token, or int [tokens]. Work is done in chunks of 4,096 tokens
// (ids narrowed to grace's 16-bit expert ids and range-checked per chunk, then routed).
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cstring>
#include <algorithm>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "grace/error.h"
#include "grace/router.h"
#include "grace/serving.h"
#include "grace/topology.h"
#include "py_common.h"

namespace grace::py {
namespace {

class PyRouter {
 public:
  PyRouter(const Placement& p, const std::string& name, const std::string& topology, uint64_t seed) : p_(p) {
    topo_ =
        parse_topology(topology.empty() ? std::to_string(p.nodes) + "x" + std::to_string(p.gpus_per_node) : topology);
    GRACE_INPUT_CHECK(topo_.num_gpus() == p.num_gpus(), "Router: topology has {} GPUs, the placement {}",
                      topo_.num_gpus(), p.num_gpus());
    router_ = make_router(name, p_, topo_, seed);
    const PhysicalLayout lay = physical_layout(p_, /*require_full=*/false);
    G_ = lay.num_gpus();
    phys_.assign(size_t(lay.num_layers) * lay.num_experts * G_, -1);
    for (int l = 0; l < lay.num_layers; ++l)
      for (int q = 0; q < lay.num_physical(); ++q)
        if (lay.row(l)[q] >= 0) phys_[(size_t(l) * lay.num_experts + lay.row(l)[q]) * G_ + lay.gpu_of(q)] = q;
  }

  std::string name() const { return std::string(router_->name()); }

  // Whether any of `rows` rows of k ids holds an id twice. For k <= 8 one 128-bit compare per
  // lane rotation (SSE2; lanes past k hold distinct values no expert id reaches), else pairs.
  static bool has_repeat(const expert_t* ids, int64_t rows, int k) {
#if defined(__SSE2__)
    if (k <= 8) {
      alignas(16) uint16_t lane[8];
      for (int j = 0; j < 8; ++j) lane[j] = uint16_t(0xFFFF - j);  // ids are < 65535 - 8 here
      __m128i any = _mm_setzero_si128();
      for (int64_t r = 0; r < rows; ++r) {
        __m128i v;
        if (k == 8) {
          v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ids + r * 8));
        } else {
          std::memcpy(lane, ids + r * k, size_t(k) * sizeof(expert_t));
          v = _mm_load_si128(reinterpret_cast<const __m128i*>(lane));
        }
#define GRACE_ROT(b) _mm_or_si128(_mm_srli_si128(v, b), _mm_slli_si128(v, 16 - (b)))
        any = _mm_or_si128(any, _mm_cmpeq_epi16(v, GRACE_ROT(2)));
        any = _mm_or_si128(any, _mm_cmpeq_epi16(v, GRACE_ROT(4)));
        any = _mm_or_si128(any, _mm_cmpeq_epi16(v, GRACE_ROT(6)));
        any = _mm_or_si128(any, _mm_cmpeq_epi16(v, GRACE_ROT(8)));
#undef GRACE_ROT
      }
      return _mm_movemask_epi8(any) != 0;
    }
#endif
    for (int64_t r = 0; r < rows; ++r)
      for (int a = 0; a < k; ++a)
        for (int b = a + 1; b < k; ++b)
          if (ids[r * k + a] == ids[r * k + b]) return true;
    return false;
  }

  template <typename Id>
  pyb::array route(pyb::array_t<Id, pyb::array::c_style> ids, pyb::object src, int layer, bool physical) {
    const int nd = int(ids.ndim());
    GRACE_INPUT_CHECK(nd == 2 || nd == 3, "route: topk_ids must be [tokens, k] or [tokens, layers, k], got {} dims",
                      nd);
    const int64_t N = ids.shape(0);
    const int L = nd == 3 ? int(ids.shape(1)) : 1, K = int(ids.shape(nd - 1));
    GRACE_INPUT_CHECK(nd == 2 || L == p_.num_layers, "route: topk_ids has {} layers, the placement {}", L,
                      p_.num_layers);
    GRACE_INPUT_CHECK(nd == 3 || (layer >= 0 && layer < p_.num_layers), "route: layer {} outside [0, {})", layer,
                      p_.num_layers);
    GRACE_INPUT_CHECK(K >= 1 && K < 65536, "route: top-k {} out of range", K);
    pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast> src_arr;
    const int64_t* sd = nullptr;  // per-token source GPUs, narrowed and checked chunk by chunk
    int src_one = -1;
    if (pyb::isinstance<pyb::int_>(src)) {
      src_one = src.cast<int>();
      GRACE_INPUT_CHECK(src_one >= 0 && src_one < G_, "route: src_gpu {} outside [0, {})", src_one, G_);
    } else {
      src_arr = src.cast<pyb::array_t<int64_t, pyb::array::c_style | pyb::array::forcecast>>();
      GRACE_INPUT_CHECK(src_arr.ndim() == 1 && src_arr.shape(0) == N,
                        "route: src_gpu must be an int or [tokens] = [{}]", N);
      sd = src_arr.data();
    }
    std::vector<pyb::ssize_t> shape(ids.shape(), ids.shape() + nd);
    pyb::array_t<int32_t> out(shape);
    const Id* in = ids.data();
    int32_t* o = out.mutable_data();
    const int E = p_.num_experts;
    {
      pyb::gil_scoped_release nogil;
      // A router keeps scratch state between calls (and load-aware its batch loads): one call at a
      // time per Router, while other threads run Python (two threads on one Router crashed).
      std::lock_guard<std::mutex> one_call(mu_);
      constexpr int64_t kChunk = 2048;  // keeps a chunk's ids, GPUs and output in L2
      std::vector<expert_t> narrow;
      std::vector<int> dest, srcbuf;
      std::vector<int64_t> tokidx;
      std::vector<uint32_t> stamp(size_t(E), 0u);
      uint32_t row_stamp = 0;
      for (int64_t t0 = 0; t0 < N; t0 += kChunk) {
        const int64_t n = std::min(kChunk, N - t0);
        const int64_t width = int64_t(L) * K;
        narrow.resize(size_t(n * width));
        const Id* src_ids = in + t0 * width;
        using U = std::make_unsigned_t<Id>;  // as unsigned, < 0 and >= E are both >= E
        U top = 0;
        expert_t* nw = narrow.data();
        for (int64_t i = 0; i < n * width; ++i) {  // a max reduction: vectorized
          top = std::max(top, U(src_ids[i]));
          nw[i] = expert_t(src_ids[i]);
        }
        if (top >= U(E)) {
          for (int64_t i = 0; i < n * width; ++i)
            if (!(src_ids[i] >= 0 && src_ids[i] < Id(E)))
              fail_input("route: topk_ids flat index {}: expert id {} outside [0, {})", t0 * width + i,
                         int64_t(src_ids[i]), E);
        }
        // A token choosing one expert twice is no top-k row (plan and replan refuse it too).
        if (K > 1 && has_repeat(nw, n * L, K))
          // Find and name it: each (token, layer) row stamps its ids into an [E] array, a stamp
          // seen again is a repeat.
          for (int64_t r = 0; r < n * L; ++r) {
            if (++row_stamp == 0) std::fill(stamp.begin(), stamp.end(), 0u), row_stamp = 1;
            const expert_t* row = nw + r * K;
            for (int j = 0; j < K; ++j) {
              uint32_t& st = stamp[row[j]];
              if (st == row_stamp)
                fail_input("route: token {}, layer {}: expert {} appears twice in the top-{}", t0 + r / L,
                           nd == 3 ? int(r % L) : layer, int(row[j]), K);
              st = row_stamp;
            }
          }
        if (src_one >= 0) {
          srcbuf.assign(size_t(n), src_one);
        } else {
          srcbuf.resize(size_t(n));
          uint64_t top = 0;
          for (int64_t t = 0; t < n; ++t) {  // a max reduction; the message after
            top = std::max(top, uint64_t(sd[t0 + t]));
            srcbuf[size_t(t)] = int(sd[t0 + t]);
          }
          if (top >= uint64_t(G_))
            for (int64_t t = t0; t < t0 + n; ++t)
              GRACE_INPUT_CHECK(sd[t] >= 0 && sd[t] < G_, "route: src_gpu[{}] = {} outside [0, {})", t, sd[t], G_);
        }
        const int* sp = srcbuf.data();
        tokidx.resize(size_t(n));
        for (int64_t t = 0; t < n; ++t) tokidx[size_t(t)] = t0 + t;
        dest.resize(size_t(n * K));
        for (int l = 0; l < L; ++l) {
          const int layer_id = nd == 3 ? l : layer;
          RouteBatch b;
          b.layer = layer_id;
          b.num_tokens = n;
          b.top_k = K;
          b.ids = narrow.data() + size_t(l) * K;
          b.ids_stride = width;
          b.src_gpu = sp;
          b.token_index = tokidx.data();
          router_->route(b, dest.data());
          const int32_t* ph = phys_.data() + size_t(layer_id) * E * G_;
          const size_t G = size_t(G_);
          const int* dp = dest.data();
          for (int64_t t = 0; t < n; ++t) {
            int32_t* orow = o + (t0 + t) * width + size_t(l) * K;
            const expert_t* irow = b.ids + t * width;
            const int* drow = dp + t * K;
            if (physical)
              for (int j = 0; j < K; ++j) orow[j] = ph[size_t(irow[j]) * G + size_t(drow[j])];
            else
              std::copy(drow, drow + K, orow);
          }
        }
      }
    }
    return out;
  }

 private:
  Placement p_;
  Topology topo_;
  std::unique_ptr<Router> router_;
  std::mutex mu_;  // held while router_ routes (the GIL is released then)
  int G_ = 0;
  std::vector<int32_t> phys_;  // [layer][expert][gpu] -> physical id, -1 when the GPU has no copy
};

}  // namespace

void init_router(pyb::module_& m) {
  pyb::class_<PyRouter>(m, "Router")
      .def(pyb::init<const Placement&, const std::string&, const std::string&, uint64_t>(), pyb::arg("placement"),
           pyb::arg("name") = "tar", pyb::arg("topology") = "", pyb::arg("seed") = 0)
      .def_property_readonly("name", &PyRouter::name)
      .def("route_i32", &PyRouter::route<int32_t>, pyb::arg("topk_ids"), pyb::arg("src_gpu"), pyb::arg("layer"),
           pyb::arg("physical"))
      .def("route_i64", &PyRouter::route<int64_t>, pyb::arg("topk_ids"), pyb::arg("src_gpu"), pyb::arg("layer"),
           pyb::arg("physical"));
  m.def("router_names", &router_names);
}

}  // namespace grace::py
