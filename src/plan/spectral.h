// Spectral clustering of an affinity matrix (Ng, Jordan and Weiss): the k eigenvectors of the
// smallest eigenvalues of the normalised Laplacian L = I - D^-1/2 A D^-1/2, rows normalised to
// unit length, then k-means. Eigen's SelfAdjointEigenSolver does the decomposition; k-means is
// seeded deterministically (farthest-point seeding from the row farthest from the mean), so
// the result depends on the matrix only. Cluster sizes follow the affinity structure
// ("fully non-uniform"); a cluster can be empty. Experts with no affinity at all end up in
// whichever cluster k-means gives them.
#ifndef GRACE_PLAN_SPECTRAL_H_
#define GRACE_PLAN_SPECTRAL_H_

#include <vector>

#include "plan/plan_util.h"

namespace grace::plan {

// Cluster index in [0, k) per row of a. k >= n gives every row its own cluster.
std::vector<int> spectral_clustering(const AffMat& a, int k, int kmeans_iters = 100);

}  // namespace grace::plan

#endif  // GRACE_PLAN_SPECTRAL_H_
