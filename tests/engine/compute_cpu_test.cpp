#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "grace/engine/compute.h"
#include "grace/error.h"

namespace grace::engine {

// Naive SwiGLU: y = W_d (silu(W_g x) .* (W_u x)).
static std::vector<float> naive(const std::vector<float>& g, const std::vector<float>& u, const std::vector<float>& d,
                                const float* x, int H, int I) {
  std::vector<float> a(static_cast<size_t>(I)), y(static_cast<size_t>(H), 0.0f);
  for (int i = 0; i < I; ++i) {
    double zg = 0, zu = 0;
    for (int h = 0; h < H; ++h) zg += g[size_t(i * H + h)] * x[h], zu += u[size_t(i * H + h)] * x[h];
    a[size_t(i)] = float(zg / (1 + std::exp(-zg)) * zu);
  }
  for (int h = 0; h < H; ++h) {
    double s = 0;
    for (int i = 0; i < I; ++i) s += d[size_t(h * I + i)] * a[size_t(i)];
    y[size_t(h)] = float(s);
  }
  return y;
}

TEST(CpuCompute, SwiGluMatchesNaiveLoops) {
  const int H = 20, I = 12, rows = 7;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> U(-0.5f, 0.5f);
  auto rnd = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = U(rng);
    return v;
  };
  auto g = rnd(H * I), u = rnd(H * I), d = rnd(H * I), x = rnd(size_t(rows) * H);
  auto g2 = rnd(H * I);
  auto c = make_cpu_compute();
  c->configure(H, I);
  c->load_expert(2, 5, {g.data(), u.data(), d.data()});
  c->load_expert(2, 6, {g2.data(), u.data(), d.data()});
  EXPECT_TRUE(c->has_expert(2, 5));
  EXPECT_FALSE(c->has_expert(1, 5));
  EXPECT_EQ(c->memory_bytes(), size_t(2 * 3 * H * I * 4));
  std::vector<float> y5(size_t(rows) * H), y6(size_t(3) * H);
  ExpertTask tasks[2] = {{5, rows, x.data(), y5.data()}, {6, 3, x.data(), y6.data()}};
  c->run(2, tasks, 2);
  for (int r = 0; r < rows; ++r) {
    auto ref = naive(g, u, d, &x[size_t(r * H)], H, I);
    for (int h = 0; h < H; ++h) EXPECT_NEAR(y5[size_t(r * H + h)], ref[size_t(h)], 1e-5) << r << "," << h;
  }
  auto ref6 = naive(g2, u, d, &x[0], H, I);
  for (int h = 0; h < H; ++h) EXPECT_NEAR(y6[size_t(h)], ref6[size_t(h)], 1e-5);
  ExpertTask missing{7, 1, x.data(), y6.data()};
  EXPECT_THROW(c->run(2, &missing, 1), Error);
}

}  // namespace grace::engine
