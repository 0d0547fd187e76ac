// x^2 as custom tg::Functions, done right and with one deliberate mistake each, for the tests of
// gradcheck, gradgradcheck and the engine (test_gradcheck*.cpp, test_engine_safety.cpp).
#pragma once

#include <utility>
#include <vector>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::test {

/// A float64 leaf that requires grad.
inline Tensor param(xt::xarray<double> v) { return Tensor(std::move(v), true); }

/// The forward every variant shares: saves x, returns x^2.
template <class Derived>
struct SquareForward : Function<Derived> {
  static Tensor forward(FunctionContext& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return x * x;
  }
};

/// x^2 done right: backward 2x, JVP 2x.
struct Square : SquareForward<Square> {
  static const char* name() { return "square"; }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& grad) {
    return {grad * ctx.saved()[0] * 2.0};
  }
  static Tensor jvp(FunctionContext& ctx, const std::vector<Tensor>& t) { return t[0] * ctx.saved()[0] * 2.0; }
};

/// x^2 with a deliberately wrong backward (3x instead of 2x) and a right JVP.
struct WrongBackward : SquareForward<WrongBackward> {
  static const char* name() { return "wrong_backward"; }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& grad) {
    return {grad * ctx.saved()[0] * 3.0};
  }
  static Tensor jvp(FunctionContext& ctx, const std::vector<Tensor>& t) { return t[0] * ctx.saved()[0] * 2.0; }
};

/// x^2 with a right backward and a deliberately wrong JVP (3x instead of 2x).
struct WrongJvp : SquareForward<WrongJvp> {
  static const char* name() { return "wrong_jvp"; }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& grad) {
    return {grad * ctx.saved()[0] * 2.0};
  }
  static Tensor jvp(FunctionContext& ctx, const std::vector<Tensor>& t) { return t[0] * ctx.saved()[0] * 3.0; }
};

/// x^2 whose backward is right at first order but has a detached factor, so second order fails.
struct FlatSquare : SquareForward<FlatSquare> {
  static const char* name() { return "flat_square"; }
  static std::vector<Tensor> backward(FunctionContext& ctx, const Tensor& grad) {
    return {grad * ctx.saved()[0].detach() * 2.0};
  }
};

}  // namespace tg::test
