// ADBench's Gaussian mixture objective (issue 19), included by tapegrad_bench.cpp; the PyTorch side
// is bench/torch_more.py's gmm_objective, written op for op the same way.
//
// For data x (n, d), K components with log-weights alphas (K), means (K, d) and inverse covariance
// factors icf (K, d + d(d-1)/2) (first the logs of the diagonal of Q_k, then its strictly lower
// entries column by column), and a Wishart prior (gamma, m):
//   f = -n d/2 log(2 pi) + sum_i logsumexp_k(alphas_k + sum(q_k) - |Q_k (x_i - mu_k)|^2 / 2)
//       - n logsumexp(alphas) + sum_k (gamma^2/2 |Q_k|_F^2 - m sum(q_k)) - K C(d, gamma, m)
// with q_k the log-diagonal and C = n' d log(gamma / sqrt 2) - log Gamma_d(n'/2), n' = d + m + 1.
// The K products Q_k x_i are one matrix product x Q^T, Q the K d x d stack of the Q_k.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace bench {

/// The GMM's leaves and data, float64, from the shared splitmix64 streams (torch_more.py draws
/// the same): alphas U(-1,1) (stream 300), means U(-1,1) (301), icf U(-0.5,0.5) (302),
/// x U(-1,1) (303).
struct GmmProblem {
  std::size_t d, k, n;
  double gamma = 1.0, m = 0.0;  // ADBench's data files use gamma 1, m 0
  tg::Tensor alphas, means, icf, x;
  tg::Tensor gather_index;  // position of Q_k's entry (r, c) in cat(0, exp(q_k), lower_k)

  GmmProblem(std::size_t d_, std::size_t k_, std::size_t n_) : d(d_), k(k_), n(n_) {
    const std::size_t lower = d * (d - 1) / 2;
    auto leaf = [](std::uint64_t seed, const tg::Shape& shape, double bound) {
      std::size_t count = 1;
      for (std::size_t e : shape) count *= e;
      const std::vector<float> w = uniform_weights(seed, count, bound);
      return tg::from_vector(std::vector<double>(w.begin(), w.end()), shape,
                             tg::TensorOptions(tg::kFloat64).requires_grad());
    };
    alphas = leaf(300, {k}, 1.0);
    means = leaf(301, {k, d}, 1.0);
    icf = leaf(302, {k, d + lower}, 0.5);
    x = leaf(303, {n, d}, 1.0).detach();
    std::vector<double> index(d * d, 0.0);  // 0: the zero column (upper triangle)
    for (std::size_t r = 0; r < d; ++r) index[r * d + r] = static_cast<double>(1 + r);
    std::size_t next = 0;
    for (std::size_t col = 0; col < d; ++col)
      for (std::size_t row = col + 1; row < d; ++row) index[row * d + col] = static_cast<double>(1 + d + next++);
    gather_index = tg::from_vector(index, {d * d}, tg::kInt64);
  }

  /// log Gamma_d(a), the multivariate gamma function's log.
  static double multigammaln(double a, std::size_t p) {
    double r = 0.25 * static_cast<double>(p * (p - 1)) * std::log(M_PI);
    for (std::size_t j = 1; j <= p; ++j) r += std::lgamma(a + 0.5 * (1.0 - static_cast<double>(j)));
    return r;
  }

  tg::Tensor objective(const tg::Tensor& a, const tg::Tensor& mu, const tg::Tensor& f) const {
    const auto D = static_cast<std::int64_t>(d), K = static_cast<std::int64_t>(k), N = static_cast<std::int64_t>(n);
    const tg::Tensor q = tg::slice(f, 1, 0, D);                 // (K, d) logs of the diagonals
    const tg::Tensor lower = tg::slice(f, 1, D, std::nullopt);  // (K, d(d-1)/2)
    const tg::Tensor qdiag = tg::exp(q);
    const tg::Tensor sum_qs = tg::sum(q, 1);  // (K)
    const tg::Tensor entries = tg::cat({tg::zeros({k, 1}, tg::kFloat64), qdiag, lower}, 1);
    const tg::Tensor Q = tg::index_select(entries, 1, gather_index).reshape({K * D, D});  // rows of every Q_k
    const tg::Tensor Qmu = tg::bmm(Q.reshape({K, D, D}), mu.reshape({K, D, 1})).reshape({K * D});
    const tg::Tensor z = tg::mm(x, Q, false, true) - Qmu;          // (n, K d): Q_k (x_i - mu_k)
    const tg::Tensor sq = tg::sum((z * z).reshape({N, K, D}), 2);  // (n, K)
    const tg::Tensor inner = (a + sum_qs) - sq * 0.5;
    const tg::Tensor slse = tg::sum(tg::logsumexp(inner, {1}));
    const double nd = static_cast<double>(n), dd = static_cast<double>(d), kd = static_cast<double>(k);
    const double constant = -nd * dd * 0.5 * std::log(2.0 * M_PI);
    const double nw = dd + m + 1.0;
    const double C = nw * dd * std::log(gamma / std::sqrt(2.0)) - multigammaln(0.5 * nw, d);
    const tg::Tensor frobenius = tg::sum(qdiag * qdiag) + tg::sum(lower * lower);
    const tg::Tensor prior = frobenius * (0.5 * gamma * gamma) - tg::sum(sum_qs) * m - kd * C;
    return slse - tg::logsumexp(a) * nd + prior + constant;
  }

  tg::Tensor objective() const { return objective(alphas, means, icf); }
};

/// Times the objective (under NoGradGuard) and its gradient wrt alphas, means and icf (recorded
/// forward + tg::grad), alternating, `reps` of each after one untimed pair; checks the gradient
/// against a fourth-order central difference along a fixed direction u, and prints the gradient's
/// projections <g, u_block> per leaf for the driver to compare with PyTorch's. Fails (exit 1)
/// when the gradient and the finite difference differ by more than 1e-8 relative.
inline int run_gmm(const Options& opt) {
  tg::set_num_threads(1);
  const GmmProblem p(static_cast<std::size_t>(opt.integer("d")), static_cast<std::size_t>(opt.integer("k")),
                     static_cast<std::size_t>(opt.integer("n")));
  const auto reps = static_cast<std::size_t>(std::max(1L, opt.integer("reps")));
  const std::vector<tg::Tensor> leaves = {p.alphas, p.means, p.icf};
  std::vector<tg::Tensor> u;  // direction: stream 310 + leaf, U(-1, 1)
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const std::vector<float> w = uniform_weights(310 + i, leaves[i].numel(), 1.0);
    u.push_back(tg::from_vector(std::vector<double>(w.begin(), w.end()), leaves[i].shape(), tg::kFloat64));
  }
  std::vector<double> objective_s, gradient_s;
  double value = 0;
  std::vector<tg::Tensor> g;
  for (std::size_t r = 0; r <= reps; ++r) {
    const double t0 = now_seconds();
    {
      tg::NoGradGuard no_grad;
      value = p.objective().item();
    }
    const double t1 = now_seconds();
    g = tg::grad({p.objective()}, leaves);
    const double t2 = now_seconds();
    if (r == 0) continue;
    objective_s.push_back(t1 - t0);
    gradient_s.push_back(t2 - t1);
  }
  std::vector<double> projections;
  double directional = 0;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    projections.push_back(tg::sum(g[i] * u[i]).item());
    directional += projections.back();
  }
  double fd = 0;
  {
    tg::NoGradGuard no_grad;
    // f'(0) along u from f(±h), f(±2h): error O(h^4) plus rounding of O(eps |f| / h). At d=64, K=200,
    // n=10000 the h^4 term dominates at h = 1e-3 (relative error 4.7e-8; 7.6e-7 at 2e-3), so --fd-h
    // defaults to 5e-4, which keeps every size under 1e-8 (4e-13 at d=2, K=5, n=1000).
    const double h = std::stod(opt.str("fd-h"));
    auto at = [&](double s) { return p.objective(p.alphas + u[0] * s, p.means + u[1] * s, p.icf + u[2] * s).item(); };
    fd = (8.0 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12.0 * h);
  }
  const auto median = median_of;
  const double obj = median(objective_s), grad = median(gradient_s);
  const double fd_rel_err = std::fabs(fd - directional) / std::fabs(directional);
  // 17 significant digits (JsonLine's numbers keep 9): the driver compares these with PyTorch's.
  auto exact = [](double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    return std::string(text);
  };
  JsonLine line;
  line.add("workload", "gmm")
      .add("framework", "tapegrad")
      .add("threads", 1)
      .add("d", static_cast<double>(p.d))
      .add("k", static_cast<double>(p.k))
      .add("n", static_cast<double>(p.n))
      .add("reps", static_cast<double>(reps))
      .add("objective_s", obj)
      .add("gradient_s", grad)
      .add("gradient_over_objective", grad / obj)
      .add("objective_us", obj * 1e6)
      .add("gradient_us", grad * 1e6)
      .add("objective", exact(value))
      .add("proj_alphas", exact(projections[0]))
      .add("proj_means", exact(projections[1]))
      .add("proj_icf", exact(projections[2]))
      .add("fd_directional", exact(fd))
      .add("fd_rel_err", fd_rel_err)
      .add("peak_rss_mib", peak_rss_mib())
      .print();
  if (!(fd_rel_err <= 1e-8)) {  // a gradient that disagrees with the objective is not worth timing
    std::fprintf(stderr, "gmm: gradient along u %.17g, finite difference %.17g (relative error %.3g > 1e-8)\n",
                 directional, fd, fd_rel_err);
    return 1;
  }
  return 0;
}

}  // namespace bench
