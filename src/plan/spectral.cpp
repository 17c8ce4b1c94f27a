#include "plan/spectral.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "grace/error.h"

namespace grace::plan {
namespace {

std::vector<int> kmeans(const Eigen::MatrixXd& x, int k, int iters) {
  const int n = int(x.rows());
  // Farthest-point seeding: first the row farthest from the mean, then repeatedly the row
  // farthest from every centre chosen so far.
  Eigen::RowVectorXd mean = x.colwise().mean();
  std::vector<int> seeds;
  Eigen::VectorXd dist = (x.rowwise() - mean).rowwise().squaredNorm();
  Eigen::VectorXd best_d = Eigen::VectorXd::Constant(n, 1e300);
  for (int c = 0; c < k; ++c) {
    int pick = 0;
    for (int i = 1; i < n; ++i)
      if (dist(i) > dist(pick)) pick = i;
    seeds.push_back(pick);
    best_d = best_d.cwiseMin((x.rowwise() - x.row(pick)).rowwise().squaredNorm());
    dist = best_d;
  }
  Eigen::MatrixXd centres(k, x.cols());
  for (int c = 0; c < k; ++c) centres.row(c) = x.row(seeds[c]);

  std::vector<int> assign(n, -1);
  for (int it = 0; it < iters; ++it) {
    bool changed = false;
    for (int i = 0; i < n; ++i) {
      int best = 0;
      double bd = (x.row(i) - centres.row(0)).squaredNorm();
      for (int c = 1; c < k; ++c) {
        double d = (x.row(i) - centres.row(c)).squaredNorm();
        if (d < bd) bd = d, best = c;
      }
      if (assign[i] != best) assign[i] = best, changed = true;
    }
    if (!changed) break;
    Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(k, x.cols());
    std::vector<int> count(k, 0);
    for (int i = 0; i < n; ++i) sum.row(assign[i]) += x.row(i), ++count[assign[i]];
    for (int c = 0; c < k; ++c) {
      if (count[c] > 0) {
        centres.row(c) = sum.row(c) / count[c];
        continue;
      }
      // Empty cluster: restart it at the row farthest from its own centre.
      int far = 0;
      double fd = -1;
      for (int i = 0; i < n; ++i) {
        double d = (x.row(i) - centres.row(assign[i])).squaredNorm();
        if (d > fd) fd = d, far = i;
      }
      centres.row(c) = x.row(far);
    }
  }
  return assign;
}

}  // namespace

std::vector<int> spectral_clustering(const AffMat& a, int k, int kmeans_iters) {
  const int n = a.n;
  GRACE_CHECK(k >= 1, "spectral clustering into {} clusters", k);
  std::vector<int> assign(n, 0);
  if (k == 1 || n == 0) return assign;
  if (k >= n) {
    for (int i = 0; i < n; ++i) assign[i] = i;
    return assign;
  }
  double scale = 0;
  for (double v : a.v) scale = std::max(scale, v);
  if (scale <= 0) scale = 1;
  Eigen::MatrixXd w(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) w(i, j) = a(i, j) / scale;
  Eigen::VectorXd dinv(n);
  for (int i = 0; i < n; ++i) {
    double d = w.row(i).sum();
    dinv(i) = d > 0 ? 1.0 / std::sqrt(d) : 0.0;
  }
  // L = I - D^-1/2 W D^-1/2; its smallest eigenvalues are the first columns (ascending order).
  Eigen::MatrixXd lap = -(dinv.asDiagonal() * w * dinv.asDiagonal());
  lap.diagonal().array() += 1.0;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(lap);
  GRACE_CHECK(es.info() == Eigen::Success, "eigen decomposition of a {}x{} Laplacian failed", n, n);
  Eigen::MatrixXd u = es.eigenvectors().leftCols(k);
  for (int i = 0; i < n; ++i) {
    double norm = u.row(i).norm();
    if (norm > 0) u.row(i) /= norm;
  }
  return kmeans(u, k, kmeans_iters);
}

}  // namespace grace::plan
