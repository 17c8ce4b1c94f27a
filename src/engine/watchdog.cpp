// Watchdog thread of one engine rank (see engine/watchdog.h for the contract).
#include "engine/watchdog.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace grace::engine {
namespace {

int64_t now_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Watchdog::Watchdog(double timeout_s, int rank, std::function<void()> on_timeout)
    : timeout_s_(timeout_s), rank_(rank), on_timeout_(std::move(on_timeout)) {
  last_ns_.store(now_ns(), std::memory_order_relaxed);
  if (timeout_s_ > 0) thread_ = std::thread([this] { loop(); });
}

Watchdog::~Watchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::beat(const char* phase, int layer, int64_t batch) {
  if (timeout_s_ <= 0) return;
  phase_.store(phase, std::memory_order_relaxed);
  layer_.store(layer, std::memory_order_relaxed);
  batch_.store(batch, std::memory_order_relaxed);
  last_ns_.store(now_ns(), std::memory_order_release);
}

void Watchdog::loop() {
  // Poll often enough that the abort comes at most ~10% (and at most 1 s) after the deadline.
  const auto period = std::chrono::duration<double>(std::clamp(timeout_s_ / 10, 0.01, 1.0));
  const int64_t limit_ns = int64_t(timeout_s_ * 1e9);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, period);
    if (stop_) break;
    const int64_t idle = now_ns() - last_ns_.load(std::memory_order_acquire);
    if (idle < limit_ns) continue;
    const int layer = layer_.load(std::memory_order_relaxed);
    const int64_t batch = batch_.load(std::memory_order_relaxed);
    // Before the first batch (loading, start-up agreement) there is no layer or batch to name.
    const std::string where =
        layer < 0 || batch < 0 ? std::string() : fmt::format(" (layer {}, batch {})", layer, batch);
    std::fprintf(stderr, "grace: error: rank %d: no progress for %.0f s in %s%s; aborting\n", rank_, double(idle) / 1e9,
                 phase_.load(std::memory_order_relaxed), where.c_str());
    std::fflush(stderr);
    on_timeout_();
    std::_Exit(4);  // on_timeout should not return; make sure this rank ends anyway
  }
}

}  // namespace grace::engine
