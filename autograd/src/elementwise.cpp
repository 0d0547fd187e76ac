// Elementwise ops: each forward is followed by its backward, written in tapegrad ops so that the
// same formula gives higher-order derivatives when the sweep records (create_graph).
#include "tapegrad/ops/elementwise.hpp"

#include <cmath>
#include <limits>
#include <utility>

#include "kernels.hpp"
#include "strided.hpp"
#include "tape.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "vector_math.hpp"

namespace tg {

using detail::add_tangents;
using detail::elem_t;

using detail::map;
using detail::visit_floating;
using detail::zip;

namespace {

/// f applied to every element of a floating tensor.
template <class F>
Tensor unary(const char* op, const Tensor& x, F f) {
  return visit_floating(op, x, [&](const auto& v) { return Tensor(map(v, f)); });
}

/// unary(op, x, f), except that float32 goes through the whole-array kernel f32 of
/// vector_math.hpp (a faster forward; the derivative is the same).
template <class F>
Tensor unary_vectorized(const char* op, const Tensor& x, void (*f32)(const float*, float*, std::size_t), F f) {
  if (x.defined() && x.dtype() == kFloat32) {
    const auto& v = x.value<float>();
    auto r = detail::empty_array<float>(v.shape());
    f32(v.data(), r.data(), v.size());
    return Tensor(std::move(r));
  }
  return unary(op, x, f);
}

/// f applied with broadcasting to two floating tensors of one dtype; R = bool for comparisons.
template <bool kBool = false, class F>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::require_same_floating(op, a, b);
  // A broadcast result can be far larger than either operand: checked here, under op's name.
  if (!detail::same_shape(a, b))
    detail::checked_numel(op, detail::broadcast_shapes(op, a.shape(), b.shape()), element_size(a.dtype()));
  return visit_floating(op, a, [&](const auto& av) {
    using T = elem_t<decltype(av)>;
    using R = std::conditional_t<kBool, bool, T>;
    return Tensor(zip<R>(av, b.value<T>(), f));
  });
}

/// f(x, s) for every element, with s converted to the tensor's dtype.
template <class F>
Tensor with_scalar(const char* op, const Tensor& x, double s, F f) {
  return visit_floating(op, x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    const T st = static_cast<T>(s);
    return Tensor(map(v, [&](T e) { return f(e, st); }));
  });
}

template <class F>
Tensor compare_scalar(const char* op, const Tensor& x, double s, F f) {
  return visit_floating(op, x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    const T st = static_cast<T>(s);
    auto r = detail::empty_array<bool>(v.shape());
    for (std::size_t i = 0; i < v.size(); ++i) r.data()[i] = f(v.data()[i], st);
    return Tensor(std::move(r));
  });
}

Tensor mask_as(const Tensor& mask, const Tensor& like) { return mask.to(like.dtype()); }

}  // namespace

// ---- Arithmetic ----------------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary("add", a, b, [](auto x, auto y) { return x + y; });
  return record(
      "add", std::move(out), {a, b}, kSaveNone,
      [](BackwardContext& c) {
        c.set_grad(0, c.grad());
        c.set_grad(1, c.grad());
      },
      [](const JvpContext& c) { return add_tangents(c.tangent(0), c.tangent(1)); });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary("sub", a, b, [](auto x, auto y) { return x - y; });
  auto jvp = [](const JvpContext& c) {
    return add_tangents(c.tangent(0), c.has_tangent(1) ? -c.tangent(1) : Tensor());
  };
  if (!detail::same_shape(b, out)) {
    // b broadcast (x - mean, x - row): its gradient is summed back to b's shape before it is
    // negated rather than after, so the negation touches b's elements, not the whole result's
    // (the same values: rounding is symmetric in sign).
    return record(
        "sub", std::move(out), {a, b}, kSaveNone,
        [b_shape = b.shape()](BackwardContext& c) {
          c.set_grad(0, c.grad());
          if (c.needs_grad(1)) c.set_grad(1, -sum_to(c.grad(), b_shape));
        },
        jvp);
  }
  return record(
      "sub", std::move(out), {a, b}, kSaveNone,
      [](BackwardContext& c) {
        c.set_grad(0, c.grad());
        if (c.needs_grad(1)) c.set_grad(1, -c.grad());
      },
      jvp);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary("mul", a, b, [](auto x, auto y) { return x * y; });
  return record(
      "mul", std::move(out), {a, b}, kSaveInput0 | kSaveInput1,
      [](BackwardContext& c) {
        // input(1) first, as below: a saved input written in place is reported as input 1.
        if (c.needs_grad(0) && c.needs_grad(1) && c.input(1).impl() == c.input(0).impl()) {
          // x * x: both inputs get the same product grad * x, computed once (the engine then
          // adds the two, as it would two separate products of the same values).
          const Tensor g = c.grad() * c.input(1);
          c.set_grad(0, g);
          c.set_grad(1, g);
          return;
        }
        if (c.needs_grad(0)) c.set_grad(0, c.grad() * c.input(1));
        if (c.needs_grad(1)) c.set_grad(1, c.grad() * c.input(0));
      },
      [](const JvpContext& c) {
        return add_tangents(c.has_tangent(0) ? c.tangent(0) * c.input(1) : Tensor(),
                            c.has_tangent(1) ? c.input(0) * c.tangent(1) : Tensor());
      });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary("div", a, b, [](auto x, auto y) { return x / y; });
  return record(
      "div", std::move(out), {a, b}, kSaveInput0 | kSaveInput1,
      [](BackwardContext& c) {
        const Tensor& b = c.input(1);
        if (c.needs_grad(0)) c.set_grad(0, c.grad() / b);
        if (c.needs_grad(1)) c.set_grad(1, -c.grad() * c.input(0) / (b * b));
      },
      [](const JvpContext& c) {
        // d(a/b) = da / b - (a/b) db / b
        const Tensor& b = c.input(1);
        return add_tangents(c.has_tangent(0) ? c.tangent(0) / b : Tensor(),
                            c.has_tangent(1) ? -(c.tangent(1) * c.output()) / b : Tensor());
      });
}

Tensor add(const Tensor& a, double s) {
  Tensor out = with_scalar("add", a, s, [](auto x, auto y) { return x + y; });
  return record(
      "add_scalar", std::move(out), {a}, kSaveNone, [](BackwardContext& c) { c.set_grad(0, c.grad()); },
      [](const JvpContext& c) { return c.tangent(0); });
}

Tensor mul(const Tensor& a, double s) {
  Tensor out = with_scalar("mul", a, s, [](auto x, auto y) { return x * y; });
  return record(
      "mul_scalar", std::move(out), {a}, kSaveNone, [s](BackwardContext& c) { c.set_grad(0, c.grad() * s); },
      [s](const JvpContext& c) { return c.tangent(0) * s; });
}

Tensor div(const Tensor& a, double s) {
  Tensor out = with_scalar("div", a, s, [](auto x, auto y) { return x / y; });
  return record(
      "div_scalar", std::move(out), {a}, kSaveNone, [s](BackwardContext& c) { c.set_grad(0, c.grad() / s); },
      [s](const JvpContext& c) { return c.tangent(0) / s; });
}

Tensor rsub(const Tensor& a, double s) {
  Tensor out = with_scalar("rsub", a, s, [](auto x, auto y) { return y - x; });
  return record(
      "rsub_scalar", std::move(out), {a}, kSaveNone, [](BackwardContext& c) { c.set_grad(0, -c.grad()); },
      [](const JvpContext& c) { return -c.tangent(0); });
}

Tensor rdiv(const Tensor& a, double s) {
  Tensor out = with_scalar("rdiv", a, s, [](auto x, auto y) { return y / x; });
  // d(s/a)/da = -s/a^2
  return record(
      "rdiv_scalar", std::move(out), {a}, kSaveInput0,
      [s](BackwardContext& c) {
        const Tensor& a = c.input(0);
        c.set_grad(0, c.grad() * (-s) / (a * a));
      },
      [s](const JvpContext& c) {
        const Tensor& a = c.input(0);
        return c.tangent(0) * (-s) / (a * a);
      });
}

Tensor neg(const Tensor& a) {
  Tensor out = unary("neg", a, [](auto x) { return -x; });
  return record(
      "neg", std::move(out), {a}, kSaveNone, [](BackwardContext& c) { c.set_grad(0, -c.grad()); },
      [](const JvpContext& c) { return -c.tangent(0); });
}

// ---- Powers, exponentials, logarithms ------------------------------------------------------------

Tensor pow(const Tensor& a, double p) {
  Tensor out = with_scalar("pow", a, p, [](auto x, auto y) { return std::pow(x, y); });
  return record(
      "pow_scalar", std::move(out), {a}, kSaveInput0,
      [p](BackwardContext& c) {
        if (p == 0.0) return c.set_grad(0, zeros_like(c.input(0)));
        if (p == 1.0) return c.set_grad(0, c.grad());
        if (p == 2.0) return c.set_grad(0, c.grad() * c.input(0) * 2.0);
        c.set_grad(0, c.grad() * p * pow(c.input(0), p - 1.0));
      },
      [p](const JvpContext& c) {
        if (p == 0.0) return Tensor();  // constant: tangent zero
        if (p == 1.0) return c.tangent(0);
        if (p == 2.0) return c.tangent(0) * c.input(0) * 2.0;
        return c.tangent(0) * p * pow(c.input(0), p - 1.0);
      });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary("pow", a, b, [](auto x, auto y) { return std::pow(x, y); });
  return record(
      "pow", std::move(out), {a, b}, kSaveInput0 | kSaveInput1 | kSaveOutput,
      [](BackwardContext& c) {
        const Tensor &a = c.input(0), &b = c.input(1);
        // d/da a^b = b a^(b-1); PyTorch defines it as 0 where b == 0 (else 0 * 0^-1 = NaN at a == 0).
        if (c.needs_grad(0)) c.set_grad(0, where(eq(b, 0.0), 0.0, c.grad() * b * pow(a, b - 1.0)));
        if (c.needs_grad(1)) {
          // d/db a^b = a^b log a; PyTorch defines it as 0 where a == 0 and b >= 0.
          Tensor g = c.grad() * c.output() * log(a);
          c.set_grad(1, where(logical_and(eq(a, 0.0), ge(b, 0.0)), 0.0, g));
        }
      },
      [](const JvpContext& c) {
        // The partial derivatives of the backward, with its conventions at b == 0 and a == 0.
        const Tensor &a = c.input(0), &b = c.input(1);
        Tensor ta, tb;
        if (c.has_tangent(0)) ta = where(eq(b, 0.0), 0.0, c.tangent(0) * b * pow(a, b - 1.0));
        if (c.has_tangent(1)) tb = where(logical_and(eq(a, 0.0), ge(b, 0.0)), 0.0, c.tangent(1) * c.output() * log(a));
        return add_tangents(ta, tb);
      });
}

Tensor pow(double base, const Tensor& a) {
  Tensor out = with_scalar("pow", a, base, [](auto x, auto s) { return std::pow(s, x); });
  return record(
      "rpow_scalar", std::move(out), {a}, kSaveInput0 | kSaveOutput,
      [base](BackwardContext& c) {
        Tensor g = c.grad() * c.output() * std::log(base);
        if (base == 0.0) g = where(ge(c.input(0), 0.0), 0.0, g);
        c.set_grad(0, g);
      },
      [base](const JvpContext& c) {
        Tensor t = c.tangent(0) * c.output() * std::log(base);
        if (base == 0.0) t = where(ge(c.input(0), 0.0), 0.0, t);
        return t;
      });
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_vectorized("exp", x, detail::exp_f32, [](auto v) { return std::exp(v); });
  return record(
      "exp", std::move(out), {x}, kSaveOutput, [](BackwardContext& c) { c.set_grad(0, c.grad() * c.output()); },
      [](const JvpContext& c) { return c.tangent(0) * c.output(); });
}

Tensor log(const Tensor& x) {
  Tensor out = unary_vectorized("log", x, detail::log_f32, [](auto v) { return std::log(v); });
  return record(
      "log", std::move(out), {x}, kSaveInput0, [](BackwardContext& c) { c.set_grad(0, c.grad() / c.input(0)); },
      [](const JvpContext& c) { return c.tangent(0) / c.input(0); });
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary("sqrt", x, [](auto v) { return std::sqrt(v); });
  return record(
      "sqrt", std::move(out), {x}, kSaveOutput,
      [](BackwardContext& c) { c.set_grad(0, c.grad() / (c.output() * 2.0)); },
      [](const JvpContext& c) { return c.tangent(0) / (c.output() * 2.0); });
}

Tensor sign(const Tensor& x) {
  return unary("sign", x, [](auto v) { return static_cast<decltype(v)>((v > 0) - (v < 0)); });
}

Tensor abs(const Tensor& x) {
  Tensor out = unary("abs", x, [](auto v) { return std::abs(v); });
  return record(
      "abs", std::move(out), {x}, kSaveInput0, [](BackwardContext& c) { c.set_grad(0, c.grad() * sign(c.input(0))); },
      [](const JvpContext& c) { return c.tangent(0) * sign(c.input(0)); });
}

// ---- Trigonometric and hyperbolic ----------------------------------------------------------------

Tensor sin(const Tensor& x) {
  Tensor out = unary("sin", x, [](auto v) { return std::sin(v); });
  return record(
      "sin", std::move(out), {x}, kSaveInput0, [](BackwardContext& c) { c.set_grad(0, c.grad() * cos(c.input(0))); },
      [](const JvpContext& c) { return c.tangent(0) * cos(c.input(0)); });
}

Tensor cos(const Tensor& x) {
  Tensor out = unary("cos", x, [](auto v) { return std::cos(v); });
  return record(
      "cos", std::move(out), {x}, kSaveInput0, [](BackwardContext& c) { c.set_grad(0, -c.grad() * sin(c.input(0))); },
      [](const JvpContext& c) { return -c.tangent(0) * sin(c.input(0)); });
}

namespace {
/// grad * (1 - y^2) in one pass: tanh's derivative (y its output) applied to grad.
/// d/dgrad = 1 - y^2, d/dy = -2 y grad.
Tensor tanh_backward(const Tensor& grad, const Tensor& y) {
  Tensor out = binary("tanh_backward", grad, y, [](auto g, auto v) { return g * (decltype(v)(1) - v * v); });
  return record(
      "tanh_backward", std::move(out), {grad, y}, kSaveInput0 | kSaveInput1,
      [](BackwardContext& c) {
        const Tensor &g = c.input(0), &y = c.input(1);
        if (c.needs_grad(0)) c.set_grad(0, tanh_backward(c.grad(), y));
        if (c.needs_grad(1)) c.set_grad(1, c.grad() * g * y * -2.0);
      },
      [](const JvpContext& c) {
        const Tensor &g = c.input(0), &y = c.input(1);
        return add_tangents(c.has_tangent(0) ? tanh_backward(c.tangent(0), y) : Tensor(),
                            c.has_tangent(1) ? c.tangent(1) * g * y * -2.0 : Tensor());
      });
}
}  // namespace

Tensor tanh(const Tensor& x) {
  Tensor out = unary_vectorized("tanh", x, detail::tanh_f32, [](auto v) { return std::tanh(v); });
  return record(
      "tanh", std::move(out), {x}, kSaveOutput,
      [](BackwardContext& c) { c.set_grad(0, tanh_backward(c.grad(), c.output())); },
      [](const JvpContext& c) { return tanh_backward(c.tangent(0), c.output()); });
}

Tensor erf(const Tensor& x) {
  Tensor out = unary("erf", x, [](auto v) { return std::erf(v); });
  return record(
      "erf", std::move(out), {x}, kSaveInput0,
      [](BackwardContext& c) {
        const Tensor& x = c.input(0);
        c.set_grad(0, c.grad() * exp(-(x * x)) * (2.0 / std::sqrt(M_PI)));
      },
      [](const JvpContext& c) {
        const Tensor& x = c.input(0);
        return c.tangent(0) * exp(-(x * x)) * (2.0 / std::sqrt(M_PI));
      });
}

// ---- Activations ---------------------------------------------------------------------------------

namespace {
/// grad * (y (1 - y)) in one pass: the sigmoid's derivative (y its output) applied to grad.
/// d/dgrad = y (1 - y), d/dy = grad (1 - 2 y).
Tensor sigmoid_backward(const Tensor& grad, const Tensor& y) {
  Tensor out = binary("sigmoid_backward", grad, y, [](auto g, auto v) { return g * (v * (decltype(v)(1) - v)); });
  return record(
      "sigmoid_backward", std::move(out), {grad, y}, kSaveInput0 | kSaveInput1,
      [](BackwardContext& c) {
        const Tensor &g = c.input(0), &y = c.input(1);
        if (c.needs_grad(0)) c.set_grad(0, sigmoid_backward(c.grad(), y));
        if (c.needs_grad(1)) c.set_grad(1, c.grad() * g * (1.0 - y * 2.0));
      },
      [](const JvpContext& c) {
        const Tensor &g = c.input(0), &y = c.input(1);
        return add_tangents(c.has_tangent(0) ? sigmoid_backward(c.tangent(0), y) : Tensor(),
                            c.has_tangent(1) ? c.tangent(1) * g * (1.0 - y * 2.0) : Tensor());
      });
}
}  // namespace

Tensor sigmoid(const Tensor& x) {
  // NOTE: 1 / (1 + exp(-x)) as PyTorch and NumPy code compute it; for very negative x, exp(-x)
  // overflows to inf and the result is exactly 0, never NaN.
  Tensor out = unary_vectorized("sigmoid", x, detail::sigmoid_f32, [](auto v) {
    using T = decltype(v);
    return T(1) / (T(1) + std::exp(-v));
  });
  return record(
      "sigmoid", std::move(out), {x}, kSaveOutput,
      [](BackwardContext& c) { c.set_grad(0, sigmoid_backward(c.grad(), c.output())); },
      [](const JvpContext& c) { return sigmoid_backward(c.tangent(0), c.output()); });
}

namespace {
/// grad where x > 0, else 0: ReLU's derivative applied to grad in one pass (the same values as
/// where(gt(x, 0), grad, 0) without the mask and scalar tensors; PyTorch's threshold_backward).
/// Linear in grad, so its own derivative is itself; piecewise constant in x (no gradient).
Tensor relu_backward(const Tensor& grad, const Tensor& x) {
  Tensor out = binary("relu_backward", grad, x, [](auto g, auto v) { return v > 0 ? g : decltype(g)(0); });
  return record(
      "relu_backward", std::move(out), {grad, x}, kSaveInput1,
      [](BackwardContext& c) {
        if (c.needs_grad(0)) c.set_grad(0, relu_backward(c.grad(), c.input(1)));
      },
      [](const JvpContext& c) {
        // Piecewise constant in x: only grad's tangent moves the result.
        return c.has_tangent(0) ? relu_backward(c.tangent(0), c.input(1)) : Tensor();
      });
}
}  // namespace

Tensor relu(const Tensor& x) {
  // NOTE: written so that NaN passes through (NaN <= 0 is false), as in PyTorch.
  Tensor out = unary("relu", x, [](auto v) { return v <= 0 ? decltype(v)(0) : v; });
  return record(
      "relu", std::move(out), {x}, kSaveInput0,
      [](BackwardContext& c) { c.set_grad(0, relu_backward(c.grad(), c.input(0))); },
      [](const JvpContext& c) { return relu_backward(c.tangent(0), c.input(0)); });
}

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor out = with_scalar("leaky_relu", x, slope, [](auto v, auto s) { return v > 0 ? v : v * s; });
  return record(
      "leaky_relu", std::move(out), {x}, kSaveInput0,
      [slope](BackwardContext& c) { c.set_grad(0, where(gt(c.input(0), 0.0), c.grad(), c.grad() * slope)); },
      [slope](const JvpContext& c) { return where(gt(c.input(0), 0.0), c.tangent(0), c.tangent(0) * slope); });
}

Tensor elu(const Tensor& x, double alpha) {
  Tensor out = with_scalar("elu", x, alpha, [](auto v, auto a) { return v > 0 ? v : a * std::expm1(v); });
  // For x <= 0, d/dx alpha (e^x - 1) = alpha e^x = output + alpha.
  return record(
      "elu", std::move(out), {x}, kSaveInput0 | kSaveOutput,
      [alpha](BackwardContext& c) {
        c.set_grad(0, where(gt(c.input(0), 0.0), c.grad(), c.grad() * (c.output() + alpha)));
      },
      [alpha](const JvpContext& c) {
        return where(gt(c.input(0), 0.0), c.tangent(0), c.tangent(0) * (c.output() + alpha));
      });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  if (beta == 0) fail("softplus: beta must be non-zero");
  Tensor out = visit_floating("softplus", x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    const T b = static_cast<T>(beta), th = static_cast<T>(threshold);
    // NOTE: log1p(exp(-|bx|)) + max(bx, 0) never overflows, unlike log(1 + exp(bx)).
    return Tensor(map(v, [&](T e) {
      const T bx = b * e;
      if (bx > th) return e;
      return (std::max(bx, T(0)) + std::log1p(std::exp(-std::abs(bx)))) / b;
    }));
  });
  return record(
      "softplus", std::move(out), {x}, kSaveInput0,
      [beta, threshold](BackwardContext& c) {
        const Tensor bx = c.input(0) * beta;
        c.set_grad(0, where(gt(bx, threshold), c.grad(), c.grad() * sigmoid(bx)));
      },
      [beta, threshold](const JvpContext& c) {
        const Tensor bx = c.input(0) * beta;
        return where(gt(bx, threshold), c.tangent(0), c.tangent(0) * sigmoid(bx));
      });
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  // Composed of primitives, so every order of derivative comes from their formulas.
  if (approximate == "none") return x * 0.5 * (1.0 + erf(x * (1.0 / std::sqrt(2.0))));
  if (approximate == "tanh") {
    const double k = std::sqrt(2.0 / M_PI);
    return x * 0.5 * (1.0 + tanh((x + pow(x, 3.0) * 0.044715) * k));
  }
  fail("gelu: approximate must be \"none\" or \"tanh\", got \"", approximate, "\"");
}

// ---- Selection -----------------------------------------------------------------------------------

Tensor clamp(const Tensor& x, double lo, double hi) {
  if (lo > hi) fail("clamp: min ", lo, " is greater than max ", hi);
  Tensor out = visit_floating("clamp", x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    const T l = static_cast<T>(lo), h = static_cast<T>(hi);
    return Tensor(map(v, [&](T e) { return e < l ? l : (e > h ? h : e); }));
  });
  return record(
      "clamp", std::move(out), {x}, kSaveInput0,
      [lo, hi](BackwardContext& c) {
        const Tensor& x = c.input(0);
        c.set_grad(0, where(logical_and(ge(x, lo), le(x, hi)), c.grad(), 0.0));
      },
      [lo, hi](const JvpContext& c) {
        const Tensor& x = c.input(0);
        return where(logical_and(ge(x, lo), le(x, hi)), c.tangent(0), 0.0);
      });
}

Tensor clamp_min(const Tensor& x, double min) { return clamp(x, min, std::numeric_limits<double>::infinity()); }
Tensor clamp_max(const Tensor& x, double max) { return clamp(x, -std::numeric_limits<double>::infinity(), max); }

namespace {
/// d max(a, b) / d(a, b) (or min's, when !larger): 1 for the winner, 0 for the other, and a tie
/// split evenly. The backward and the JVP (its adjoint) both use these weights.
std::pair<Tensor, Tensor> extremum_weights(const Tensor& a, const Tensor& b, bool larger) {
  const Tensor tie = mask_as(eq(a, b), a) * 0.5;
  Tensor a_wins = mask_as(larger ? gt(a, b) : lt(a, b), a) + tie;
  Tensor b_wins = mask_as(larger ? lt(a, b) : gt(a, b), a) + tie;
  return {std::move(a_wins), std::move(b_wins)};
}

Tensor record_extremum(const char* op, Tensor out, const Tensor& a, const Tensor& b, bool larger) {
  return record(
      op, std::move(out), {a, b}, kSaveInput0 | kSaveInput1,
      [larger](BackwardContext& c) {
        const auto [wa, wb] = extremum_weights(c.input(0), c.input(1), larger);
        if (c.needs_grad(0)) c.set_grad(0, c.grad() * wa);
        if (c.needs_grad(1)) c.set_grad(1, c.grad() * wb);
      },
      [larger](const JvpContext& c) {
        const auto [wa, wb] = extremum_weights(c.input(0), c.input(1), larger);
        return add_tangents(c.has_tangent(0) ? c.tangent(0) * wa : Tensor(),
                            c.has_tangent(1) ? c.tangent(1) * wb : Tensor());
      });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  // NOTE: a NaN in either operand gives NaN (x != x tests for NaN), as torch.maximum.
  Tensor out = binary("maximum", a, b, [](auto x, auto y) { return x > y || x != x ? x : y; });
  return record_extremum("maximum", std::move(out), a, b, true);
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary("minimum", a, b, [](auto x, auto y) { return x < y || x != x ? x : y; });
  return record_extremum("minimum", std::move(out), a, b, false);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::require_defined("where", cond);
  if (cond.dtype() != DType::boolean)
    fail("where: condition must be a bool tensor, got ", to_string(cond.dtype()), to_string(cond.shape()));
  detail::require_same_floating("where", a, b);
  const Shape s =
      detail::broadcast_shapes("where", cond.shape(), detail::broadcast_shapes("where", a.shape(), b.shape()));
  Tensor out = visit_floating("where", a, [&](const auto& av) {
    using T = elem_t<decltype(av)>;
    const auto& cv = cond.value<bool>();
    const auto& bv = b.value<T>();
    // Fast path: every operand either has the result's shape or is a single element (the
    // where(mask, g, 0) of relu-like backwards); otherwise xtensor broadcasts.
    const std::size_t n = detail::checked_numel("where", s, sizeof(T));
    const bool c_full = cv.size() == n && cv.dimension() == s.size();
    const bool a_full = av.size() == n && av.dimension() == s.size();
    const bool b_full = bv.size() == n && bv.dimension() == s.size();
    if ((c_full || cv.size() == 1) && (a_full || av.size() == 1) && (b_full || bv.size() == 1) && n > 0) {
      auto r = detail::empty_array<T>(s);
      T* out = r.data();
      const bool* c = cv.data();
      const T *x = av.data(), *y = bv.data();
      // Separate loops keep the selects branch-free (a random mask would defeat prediction).
      if (c_full && a_full && b_full) {
        for (std::size_t i = 0; i < n; ++i) out[i] = c[i] ? x[i] : y[i];
      } else if (c_full && a_full) {
        const T y0 = y[0];
        for (std::size_t i = 0; i < n; ++i) out[i] = c[i] ? x[i] : y0;
      } else if (c_full && b_full) {
        const T x0 = x[0];
        for (std::size_t i = 0; i < n; ++i) out[i] = c[i] ? x0 : y[i];
      } else {
        const std::size_t ci = c_full, ai = a_full, bi = b_full;  // index step 1 or 0
        for (std::size_t i = 0; i < n; ++i) out[i] = c[i * ci] ? x[i * ai] : y[i * bi];
      }
      return Tensor(std::move(r));
    }
    // Any other broadcast: one loop over the collapsed axes (strided.hpp).
    auto r = detail::empty_array<T>(s, "where");
    if (n == 0) return Tensor(std::move(r));
    const detail::LoopNest loop = detail::collapse_axes(
        s, {detail::broadcast_strides(detail::shape_of(cv), s), detail::broadcast_strides(detail::shape_of(av), s),
            detail::broadcast_strides(detail::shape_of(bv), s), detail::contiguous_strides(s)});
    const std::ptrdiff_t sc = loop.strides[0].back(), sa = loop.strides[1].back(), sb = loop.strides[2].back();
    detail::for_each_run<4>(loop, [&](const std::array<std::ptrdiff_t, 4>& o, std::size_t len) {
      const bool* c = cv.data() + o[0];
      const T *x = av.data() + o[1], *y = bv.data() + o[2];
      T* out = r.data() + o[3];
      for (std::size_t i = 0; i < len; ++i) {
        const auto k = static_cast<std::ptrdiff_t>(i);
        out[i] = c[k * sc] ? x[k * sa] : y[k * sb];
      }
    });
    return Tensor(std::move(r));
  });
  return record(
      "where", std::move(out), {cond, a, b}, kSaveInput0,
      [](BackwardContext& c) {
        const Tensor& cond = c.input(0);
        if (c.needs_grad(1)) c.set_grad(1, where(cond, c.grad(), 0.0));
        if (c.needs_grad(2)) c.set_grad(2, where(cond, 0.0, c.grad()));
      },
      [](const JvpContext& c) {
        const Tensor& cond = c.input(0);
        if (!c.has_tangent(2)) return where(cond, c.tangent(1), 0.0);
        if (!c.has_tangent(1)) return where(cond, 0.0, c.tangent(2));
        return where(cond, c.tangent(1), c.tangent(2));
      });
}

Tensor where(const Tensor& cond, const Tensor& a, double b) {
  detail::require_floating("where", a);
  return where(cond, a, detail::scalar_tensor(b, a.dtype()));
}

Tensor where(const Tensor& cond, double a, const Tensor& b) {
  detail::require_floating("where", b);
  return where(cond, detail::scalar_tensor(a, b.dtype()), b);
}

// ---- Comparisons and logic (no gradients) --------------------------------------------------------

namespace {

/// The dtype two compared tensors are brought to, as PyTorch promotes: a floating dtype over
/// int64 and bool, int64 over bool. float32 against float64 is refused (never mixed silently).
DType comparison_dtype(const char* op, const Tensor& a, const Tensor& b) {
  const DType x = a.dtype(), y = b.dtype();
  if (x == y) return x;
  if (is_floating(x) && is_floating(y))
    fail(op, ": dtypes ", to_string(x), " and ", to_string(y), " differ (convert one with .to())");
  if (is_floating(x)) return x;
  if (is_floating(y)) return y;
  return DType::int64;
}

/// f(a, b) elementwise with broadcasting, for tensors of any dtype: a bool result, no history.
template <class F>
Tensor compare(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::require_defined(op, a);
  detail::require_defined(op, b);
  const DType d = comparison_dtype(op, a, b);
  const Tensor x = a.dtype() == d ? a : a.detach().to(d), y = b.dtype() == d ? b : b.detach().to(d);
  if (!detail::same_shape(x, y)) detail::checked_numel(op, detail::broadcast_shapes(op, x.shape(), y.shape()), 1);
  return std::visit(
      [&](const auto& xv) {
        using T = elem_t<decltype(xv)>;
        return Tensor(zip<bool>(xv, y.value<T>(), f));
      },
      detail::value_of(x));
}

/// f(e, s) for every element e of a tensor of any dtype: floating values are compared with s
/// converted to their dtype (as PyTorch), int64 and bool ones in double (so 0 < 0.5 holds).
template <class F>
Tensor compare_any_scalar(const char* op, const Tensor& x, double s, F f) {
  detail::require_defined(op, x);
  if (x.is_floating_point()) return compare_scalar(op, x, s, f);
  return std::visit(
      [&](const auto& v) {
        auto r = detail::empty_array<bool>(v.shape());
        for (std::size_t i = 0; i < v.size(); ++i) r.data()[i] = f(static_cast<double>(v.data()[i]), s);
        return Tensor(std::move(r));
      },
      detail::value_of(x));
}

}  // namespace

Tensor gt(const Tensor& a, const Tensor& b) {
  return compare("gt", a, b, [](auto x, auto y) { return x > y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare("lt", a, b, [](auto x, auto y) { return x < y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare("ge", a, b, [](auto x, auto y) { return x >= y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare("le", a, b, [](auto x, auto y) { return x <= y; });
}
Tensor eq(const Tensor& a, const Tensor& b) {
  return compare("eq", a, b, [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare("ne", a, b, [](auto x, auto y) { return x != y; });
}
Tensor gt(const Tensor& a, double s) {
  return compare_any_scalar("gt", a, s, [](auto x, auto y) { return x > y; });
}
Tensor lt(const Tensor& a, double s) {
  return compare_any_scalar("lt", a, s, [](auto x, auto y) { return x < y; });
}
Tensor ge(const Tensor& a, double s) {
  return compare_any_scalar("ge", a, s, [](auto x, auto y) { return x >= y; });
}
Tensor le(const Tensor& a, double s) {
  return compare_any_scalar("le", a, s, [](auto x, auto y) { return x <= y; });
}
Tensor eq(const Tensor& a, double s) {
  return compare_any_scalar("eq", a, s, [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, double s) {
  return compare_any_scalar("ne", a, s, [](auto x, auto y) { return x != y; });
}

namespace {
template <class F>
Tensor logical(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::require_defined(op, a);
  detail::require_defined(op, b);
  if (a.dtype() != DType::boolean || b.dtype() != DType::boolean)
    fail(op, ": expects bool tensors, got ", to_string(a.dtype()), " and ", to_string(b.dtype()));
  detail::checked_numel(op, detail::broadcast_shapes(op, a.shape(), b.shape()), 1);
  return Tensor(zip<bool>(a.value<bool>(), b.value<bool>(), f));
}
}  // namespace

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return logical("logical_and", a, b, [](bool x, bool y) { return x && y; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return logical("logical_or", a, b, [](bool x, bool y) { return x || y; });
}
Tensor logical_not(const Tensor& a) {
  detail::require_defined("logical_not", a);
  if (a.dtype() != DType::boolean) fail("logical_not: expects a bool tensor, got ", to_string(a.dtype()));
  return Tensor(map(a.value<bool>(), [](bool x) { return !x; }));
}

Tensor isfinite(const Tensor& x) {
  return visit_floating("isfinite", x, [](const auto& v) {
    auto r = detail::empty_array<bool>(v.shape());
    for (std::size_t i = 0; i < v.size(); ++i) r.data()[i] = std::isfinite(v.data()[i]);
    return Tensor(std::move(r));
  });
}

}  // namespace tg
