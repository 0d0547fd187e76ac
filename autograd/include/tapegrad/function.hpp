// User-defined differentiable ops, like torch.autograd.Function.
//
//   struct Cube : tg::Function<Cube> {
//     static const char* name() { return "cube"; }
//     static tg::Tensor forward(tg::FunctionContext& ctx, const tg::Tensor& x) {
//       ctx.save_for_backward({x});
//       return x * x * x;                       // runs without recording
//     }
//     static std::vector<tg::Tensor> backward(tg::FunctionContext& ctx, const tg::Tensor& grad) {
//       const tg::Tensor& x = ctx.saved()[0];
//       return {grad * 3.0 * x * x};            // tapegrad ops: differentiable again
//     }
//   };
//   tg::Tensor y = Cube::apply(x);
//
// forward runs under NoGradGuard; backward returns one gradient per tensor argument of apply (an
// undefined tensor for "no gradient"). Because backward is written with tapegrad ops, the op takes
// part in higher-order differentiation (create_graph) with no extra work. backward may itself
// use autograd (grad(), backward() on a graph it builds under EnableGradGuard), as activation
// checkpointing does. Tensors saved with save_for_backward are checked against their version: a
// saved tensor written in place before backward raises tg::Error.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "tapegrad/grad_mode.hpp"
#include "tapegrad/tape.hpp"
#include "tapegrad/tensor.hpp"

namespace tg {

/// State shared between a custom op's forward and backward.
class FunctionContext {
 public:
  /// Tensors backward will need (inputs, or the output: it is handed back at backward time).
  void save_for_backward(std::vector<Tensor> tensors) { saved_ = std::move(tensors); }
  const std::vector<Tensor>& saved() const { return saved_; }
  /// Non-tensor values for backward (e.g. a scalar argument).
  std::unordered_map<std::string, double> values;
  /// The op's output, available inside backward when save_for_backward included it.
  const Tensor& output() const { return output_; }
  /// Which tensor arguments require grad (valid in backward).
  bool needs_input_grad(std::size_t i) const { return i < needs_.size() && needs_[i]; }

 private:
  template <class> friend class Function;
  std::vector<Tensor> saved_;
  std::vector<std::uint32_t> saved_versions_;
  std::vector<std::size_t> saved_output_slots_;  // saved entries that were the output itself
  std::vector<Shape> input_shapes_;
  Tensor output_;
  std::vector<bool> needs_;
};

/// Base for custom ops (CRTP). Derived provides static forward(ctx, args...) -> Tensor and
/// static backward(ctx, grad) -> std::vector<Tensor>, and optionally `static const char* name()`
/// (used in error messages and graph exports).
template <class Derived>
class Function {
 public:
  template <class... Args>
  static Tensor apply(Args&&... args) {
    auto ctx = std::make_shared<FunctionContext>();
    std::vector<Tensor> inputs;
    (collect(inputs, args), ...);
    Tensor out;
    {
      NoGradGuard no_grad;
      out = Derived::forward(*ctx, args...);
    }
    if (!out.defined()) fail(op_name(), ": forward returned an undefined tensor");
    // A saved output would keep its own node alive; keep the slot and hand the output back later.
    for (std::size_t k = 0; k < ctx->saved_.size(); ++k)
      if (ctx->saved_[k].is_same(out)) {
        ctx->saved_[k] = Tensor();
        ctx->saved_output_slots_.push_back(k);
      }
    for (const Tensor& t : ctx->saved_)
      ctx->saved_versions_.push_back(t.defined() ? t.version() : 0);
    for (const Tensor& t : inputs) ctx->input_shapes_.push_back(t.defined() ? t.shape() : Shape{});
    for (const Tensor& t : inputs)
      if (t.is_same(out)) out = out.detach();
    const Save saves = ctx->saved_output_slots_.empty() ? kSaveNone : kSaveOutput;
    return record(op_name(), std::move(out), inputs, saves, [ctx](BackwardContext& c) {
      // A local copy of the context: a nested or concurrent backward of this node gets its own.
      FunctionContext local = *ctx;
      for (std::size_t k = 0; k < local.saved_.size(); ++k)
        if (local.saved_[k].defined())
          detail::check_saved_version(op_name(), "saved tensor " + std::to_string(k), local.saved_[k],
                                      local.saved_versions_[k]);
      if (!local.saved_output_slots_.empty()) {
        local.output_ = c.output();
        for (auto k : local.saved_output_slots_) local.saved_[k] = local.output_;
      }
      local.needs_.assign(c.num_inputs(), false);
      for (std::size_t i = 0; i < c.num_inputs(); ++i) local.needs_[i] = c.needs_grad(i);
      std::vector<Tensor> grads = Derived::backward(local, c.grad());
      if (grads.size() != c.num_inputs())
        fail(op_name(), " backward: returned ", grads.size(), " gradients for ", c.num_inputs(),
             " tensor inputs");
      for (std::size_t i = 0; i < grads.size(); ++i) {
        if (!grads[i].defined()) continue;
        if (grads[i].shape() != local.input_shapes_[i])
          fail(op_name(), " backward: gradient ", i, " has shape ", to_string(grads[i].shape()),
               " but the input has shape ", to_string(local.input_shapes_[i]));
        c.set_grad(i, std::move(grads[i]));
      }
    });
  }

 private:
  template <class T, class = void> struct has_name : std::false_type {};
  template <class T> struct has_name<T, std::void_t<decltype(T::name())>> : std::true_type {};
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
