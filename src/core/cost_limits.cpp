#include "core/cost_limits.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "grace/error.h"
#include "grace/model.h"
#include "grace/topology.h"

namespace grace {
namespace {

std::string describe(std::initializer_list<CostFactor> factors) {
  std::string names, values;
  for (const auto& [name, value] : factors) {
    names += (names.empty() ? "" : " x ") + std::string(name);
    values += (values.empty() ? "" : " x ") + std::to_string(value);
  }
  return names + " = " + values;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (b >= 1000 && u < 6) b /= 1000, ++u;
  return fmt::format("{:.1f} {}", b, units[u]);
}

}  // namespace

int64_t memory_limit_bytes() {
  if (const char* env = std::getenv("GRACE_MEMORY_LIMIT_MB"); env && *env) {
    int64_t mb = 0;
    const auto r = std::from_chars(env, env + std::strlen(env), mb);
    GRACE_INPUT_CHECK(r.ec == std::errc() && *r.ptr == '\0' && mb > 0 && mb < (int64_t(1) << 40),
                      "GRACE_MEMORY_LIMIT_MB={} is not a positive number of megabytes", quote_input(env));
    return mb * 1000 * 1000;
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return int64_t(8) << 30;
  return int64_t(pages) / 4 * 3 * int64_t(page);
}

int64_t cost_product(std::initializer_list<CostFactor> factors) {
  int64_t p = 1;
  for (const auto& f : factors) {
    const int64_t v = f.second < 0 ? 0 : f.second;
    if (v != 0 && p > INT64_MAX / v) return INT64_MAX;
    p *= v;
  }
  return p;
}

void check_count(const std::string& who, std::initializer_list<CostFactor> factors, int64_t limit, const char* why) {
  const int64_t p = cost_product(factors);
  GRACE_INPUT_CHECK(p <= limit, "{}: {} = {} is over the limit of {} ({}; see docs/reliability.md)", who,
                    describe(factors), p == INT64_MAX ? std::string("more than 2^63") : std::to_string(p), limit, why);
}

void check_memory(const std::string& who, std::initializer_list<CostFactor> factors, int64_t bytes_each) {
  const int64_t n = cost_product(factors);
  const double bytes = double(n) * double(bytes_each);
  const int64_t limit = memory_limit_bytes();
  GRACE_INPUT_CHECK(bytes <= double(limit),
                    "{}: {} elements x {} bytes needs {} of memory, over the limit of {} (3/4 of this machine's "
                    "memory, or GRACE_MEMORY_LIMIT_MB; see docs/reliability.md)",
                    who, describe(factors), bytes_each, human_bytes(bytes), human_bytes(double(limit)));
}

void check_plan_cost(const ModelSpec& model, const Topology& topo, int64_t redundant_slots) {
  const std::string who = "planning " + quote_input(model.name) + " on topology " + quote_input(topo.name);
  check_count(who, {{"GPUs", topo.num_gpus()}, {"experts", model.experts}, {"layers", model.moe_layers}},
              kMaxGpuExpertLayers, "planning work");
  const int64_t gpus = topo.num_gpus();
  const int64_t slots =
      topo.slots_per_gpu > 0
          ? topo.slots_per_gpu
          : (int64_t(model.experts) + (redundant_slots < 0 ? gpus : redundant_slots) + gpus - 1) / gpus;
  check_count(who, {{"layers", model.moe_layers}, {"GPUs", gpus}, {"slots per GPU", slots}}, kMaxPhysicalSlots,
              "physical expert slots");
}

}  // namespace grace
