// Gradient clipping by global norm and by value, with values worked by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

using namespace tg;
using namespace tg::optim;
using Catch::Contains;

namespace {
Tensor param_with_grad(std::initializer_list<double> grad, DType dtype = kFloat64) {
  Tensor p = zeros({grad.size()}, TensorOptions(dtype).requires_grad());
  p.set_grad(tensor(grad, dtype));
  return p;
}
double at(const Tensor& t, std::size_t i) { return t.to_double().data()[i]; }
}  // namespace

TEST_CASE("clip_grad_norm_ scales all gradients jointly and returns the norm before clipping") {
  Tensor a = param_with_grad({3, 4}), b = param_with_grad({12});
  Tensor no_grad = zeros({2}, TensorOptions(kFloat64).requires_grad());
  const Tensor old_grad = a.grad();
  // |(3, 4, 12)| = 13; max_norm 6.5 halves it (up to the 1e-6 PyTorch adds to the norm).
  const double norm = clip_grad_norm_({a, b, no_grad}, 6.5);
  CHECK(norm == Approx(13).epsilon(1e-15));
  const double coef = 6.5 / (13 + 1e-6);
  CHECK(at(a.grad(), 0) == Approx(3 * coef).epsilon(1e-15));
  CHECK(at(a.grad(), 1) == Approx(4 * coef).epsilon(1e-15));
  CHECK(at(b.grad(), 0) == Approx(12 * coef).epsilon(1e-15));
  CHECK(!no_grad.grad().defined());
  CHECK(at(old_grad, 0) == 3);  // the previous gradient tensor is not modified in place

  // Below the limit nothing changes.
  Tensor c = param_with_grad({0.3, -0.4});
  CHECK(clip_grad_norm_({c}, 1.0) == Approx(0.5));
  CHECK(at(c.grad(), 1) == -0.4);
  CHECK(clip_grad_norm_({no_grad}, 1.0) == 0.0);
}

TEST_CASE("clip_grad_norm_ with other norms, float32, and non-finite norms") {
  Tensor a = param_with_grad({3, -4}), b = param_with_grad({-12});
  CHECK(clip_grad_norm_({a, b}, 100.0, std::numeric_limits<double>::infinity()) == 12);
  CHECK(clip_grad_norm_({a, b}, 100.0, 1.0) == Approx(19));
  Tensor f = param_with_grad({6, 8}, kFloat32);
  CHECK(clip_grad_norm_({f}, 5.0) == Approx(10));
  CHECK(f.grad().dtype() == kFloat32);
  CHECK(at(f.grad(), 1) == Approx(4).epsilon(1e-6));

  Tensor n = param_with_grad({std::nan(""), 1});
  CHECK_THROWS_WITH(clip_grad_norm_({n}, 1.0, 2.0, true),
                    Contains("clip_grad_norm_") && Contains("nan"));
  CHECK(std::isnan(clip_grad_norm_({n}, 1.0)));
  CHECK_THROWS_WITH(clip_grad_norm_({a}, 1.0, -1.0), Contains("norm_type"));
}

TEST_CASE("clip_grad_value_ clamps every element") {
  Tensor a = param_with_grad({-3, 0.5, 2});
  clip_grad_value_({a}, 1.0);
  CHECK(at(a.grad(), 0) == -1);
  CHECK(at(a.grad(), 1) == 0.5);
  CHECK(at(a.grad(), 2) == 1);
  CHECK_THROWS_WITH(clip_grad_value_({a}, -1.0), Contains("clip_value"));
}
