/// \file
/// User-defined differentiable ops, like torch.autograd.Function.
///
/// \code{.cpp}
///   struct Cube : tg::Function<Cube> {
///     static const char* name() { return "cube"; }
///     static tg::Tensor forward(tg::FunctionContext& ctx, const tg::Tensor& x) {
///       ctx.save_for_backward({x});
///       return x * x * x;                       // runs without recording
///     }
///     static std::vector<tg::Tensor> backward(tg::FunctionContext& ctx, const tg::Tensor& grad) {
///       const tg::Tensor& x = ctx.saved()[0];
///       return {grad * 3.0 * x * x};            // tapegrad ops: differentiable again
///     }
///   };
///   tg::Tensor y = Cube::apply(x);
/// \endcode
///
/// forward runs under NoGradGuard; backward returns one gradient per tensor argument of apply (an
/// undefined tensor for "no gradient"). Because backward is written with tapegrad ops, the op takes
/// part in higher-order differentiation (create_graph) with no extra work. backward may itself
/// use autograd (grad(), backward() on a graph it builds under EnableGradGuard), as activation
/// checkpointing does. Tensors saved with save_for_backward are checked against their version: a
/// saved tensor written in place before backward raises tg::Error.
///
/// Forward mode (forward_ad.hpp): a Function may also define
/// \code{.cpp}
///     static tg::Tensor jvp(tg::FunctionContext& ctx, const std::vector<tg::Tensor>& tangents)
/// \endcode
/// returning the output's tangent from one tangent per tensor argument of apply (zeros for an
/// argument without one; undefined for a non-floating argument). It reads ctx as forward left it
/// (saved(), values, and output()); written in tapegrad ops it is recorded like any rule, so it
/// can be differentiated again. Forward runs with tangent propagation suspended: without jvp, a
/// tangent reaching the Function raises tg::Error rather than being dropped.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/forward_ad.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/tensor.hpp"

namespace tg {

class FunctionContext;
namespace detail {
using FunctionBackward = Callback<std::vector<Tensor>(FunctionContext&, const Tensor&)>;
using FunctionJvp = Callback<Tensor(FunctionContext&, const std::vector<Tensor>&)>;
/// Records a custom op (function.cpp): checks and saves what forward left in ctx, and runs
/// `backward` on a copy of ctx when the sweep reaches the op; `jvp` (may be empty) gives the
/// output's tangent when an input has one.
Tensor record_function(const char* name, std::shared_ptr<FunctionContext> ctx, Tensor output,
                       std::vector<Tensor> inputs, FunctionBackward backward, FunctionJvp jvp);
}  // namespace detail

/// State shared between a custom op's forward and backward.
class FunctionContext {
 public:
  /// Tensors backward will need (inputs, or the output: it is handed back at backward time).
  void save_for_backward(std::vector<Tensor> tensors) { saved_ = std::move(tensors); }
  /// The tensors given to save_for_backward(), in order.
  const std::vector<Tensor>& saved() const { return saved_; }
  /// Non-tensor values for backward (e.g. a scalar argument).
  std::map<std::string, double> values;
  /// The op's output, available inside backward when save_for_backward included it.
  const Tensor& output() const { return output_; }
  /// Which tensor arguments require grad (valid in backward).
  bool needs_input_grad(std::size_t i) const { return i < needs_.size() && needs_[i]; }

 private:
  friend Tensor detail::record_function(const char*, std::shared_ptr<FunctionContext>, Tensor, std::vector<Tensor>,
                                        detail::FunctionBackward, detail::FunctionJvp);
  std::vector<Tensor> saved_;
  std::vector<std::uint32_t> saved_versions_;
  std::vector<std::size_t> saved_output_slots_;  // saved entries that were the output itself
  std::vector<Shape> input_shapes_;
  Tensor output_;
  std::vector<bool> needs_;
};

/// Base for custom ops (CRTP). Derived provides static forward(ctx, args...) -> Tensor and
/// static backward(ctx, grad) -> std::vector<Tensor>, and optionally `static const char* name()`
/// (used in error messages and graph exports) and static jvp(ctx, tangents) -> Tensor.
template <class Derived>
class Function {
 public:
  /// Runs Derived::forward(ctx, args...) without recording its inner ops and records the result
  /// as one op whose backward is Derived::backward (one gradient per tensor argument).
  template <class... Args>
  static Tensor apply(Args&&... args) {
    auto ctx = std::make_shared<FunctionContext>();
    std::vector<Tensor> inputs;
    (collect(inputs, args), ...);
    Tensor out;
    {
      NoGradGuard no_grad;
      forward_ad::detail::SuspendGuard no_tangents;  // the output's tangent comes from jvp
      out = Derived::forward(*ctx, args...);
    }
    detail::FunctionJvp jvp;
    if constexpr (has_jvp<Derived>::value) jvp = &Derived::jvp;
    return detail::record_function(op_name(), std::move(ctx), std::move(out), std::move(inputs), &Derived::backward,
                                   std::move(jvp));
  }

 private:
  template <class T, class = void> struct has_name : std::false_type {};
  template <class T> struct has_name<T, std::void_t<decltype(T::name())>> : std::true_type {};
  template <class T, class = void>
  struct has_jvp : std::false_type {};
  template <class T>
  struct has_jvp<T, std::void_t<decltype(&T::jvp)>> : std::true_type {};
  static const char* op_name() {
    if constexpr (has_name<Derived>::value) return Derived::name();
    else return "custom_function";
  }
  template <class A>
  static void collect(std::vector<Tensor>& inputs, const A& arg) {
    if constexpr (std::is_same_v<std::decay_t<A>, Tensor>) inputs.push_back(arg);
  }
};

}  // namespace tg
