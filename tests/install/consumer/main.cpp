// Uses the installed tapegrad: first and second derivatives of f(x, y) = x^2 y + sin(x y), and
// the opt-in xtensor header.
#include <cmath>
#include <cstdio>

#include <tapegrad/tapegrad.hpp>
#include <tapegrad/xtensor.hpp>

int main() {
  tg::Tensor x = tg::tensor(0.7, tg::TensorOptions(tg::kFloat64).requires_grad());
  tg::Tensor y = tg::tensor(-1.3, tg::TensorOptions(tg::kFloat64).requires_grad());
  tg::Tensor f = x * x * y + tg::sin(x * y);
  auto g = tg::grad({f}, {x, y}, {}, std::nullopt, /*create_graph=*/true);
  auto gxx = tg::grad({g[0]}, {x});
  const double xv = 0.7, yv = -1.3;
  const double dfdx = 2 * xv * yv + yv * std::cos(xv * yv);
  const double d2fdx2 = 2 * yv - yv * yv * std::sin(xv * yv);
  // The same gradient read through xtensor: a tensor built from an xt::xarray, its value<T>().
  tg::Tensor xs(xt::xarray<double>{0.7}, /*requires_grad=*/true);
  tg::Tensor fs = tg::sum(xs * xs * y + tg::sin(xs * y));
  const double dfdx_xt = tg::grad({fs}, {xs})[0].value<double>()(0);
  const bool ok = std::abs(g[0].item() - dfdx) < 1e-12 && std::abs(gxx[0].item() - d2fdx2) < 1e-12 &&
                  std::abs(dfdx_xt - dfdx) < 1e-12;
  std::printf("df/dx = %.15g (expected %.15g), d2f/dx2 = %.15g (expected %.15g): %s\n", g[0].item(), dfdx,
              gxx[0].item(), d2fdx2, ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
