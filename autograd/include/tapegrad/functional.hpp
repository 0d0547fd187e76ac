/// \file
/// Function transforms, as torch.autograd.functional: vjp, jvp, jacobian, hessian, hvp, vhp.
///
/// \code{.cpp}
///   namespace AF = tg::autograd::functional;
///   auto f = [](const tg::Tensor& x) { return tg::sum(tg::exp(x) * tg::sin(x)); };
///   tg::Tensor g = AF::vjp(f, x).product;          // the gradient (v = 1 for a scalar output)
///   tg::Tensor jv = AF::jvp(f, x, u).product;      // J u in one forward-mode pass
///   tg::Tensor H = AF::hessian(f, x);              // shape x.shape() + x.shape()
///   tg::Tensor hv = AF::hvp(f, x, u).product;      // H u, forward over reverse
/// \endcode
///
/// Every transform has three forms, as PyTorch's functions take a tensor or a tuple and return a
/// tensor or a tuple: for functions of several tensors with several outputs (VectorFunction), of
/// several tensors with one output (ScalarFunction, e.g. a loss of several parameters), and of
/// one tensor with one output (TensorFunction). A lambda picks its form by its parameter and
/// return types, so write them out (a generic lambda cannot choose).
///
/// Semantics are PyTorch's:
/// - f is called once per pass with copies of the inputs (grad mode on); the inputs themselves
///   are never modified and gradients never reach them, unless create_graph is set and they
///   require grad (then the results are differentiable with respect to them, and to v).
/// - Results (and f's outputs returned with them) are detached unless create_graph.
/// - strict: an output independent of an input (or, for second order, a gradient independent of
///   the inputs) raises tg::Error, as PyTorch's strict=True; without it the block is zeros, the
///   mathematical value. With create_graph and strict, a result that does not require grad (so is
///   not connected to the inputs) raises too.
/// - Layouts: the Jacobian of output i (shape m...) with respect to input j (shape n...) is
///   jacobian(...)[i][j] of shape (m..., n...); hessian(...)[i][j] has shape (n_i..., n_j...).
///   A result has its input's dtype when computed in reverse mode and its output's in forward mode.
/// - Bad arguments (empty inputs, an undefined or non-floating input or output, v of the wrong
///   count, shape or dtype, a non-scalar f for hessian/hvp/vhp) raise tg::Error naming the
///   transform and the shapes.
///
/// How each is computed: vjp by one reverse pass; jvp by one forward-mode pass (forward_ad.hpp,
/// not the double-backward trick of torch.autograd.functional.jvp); jacobian row by row (reverse,
/// one grad per output element) or column by column (forward, one dual pass per input element);
/// hvp forward over reverse (the tangent of the gradient, one pass); vhp reverse over reverse;
/// hessian forward over reverse by default (one column per input element), or reverse over reverse.
/// The forward-mode transforms (jvp, forward jacobian, hvp, forward hessian) open a
/// forward_ad::DualLevel, so they raise tg::Error when one is already alive (nested forward mode is
/// not supported, as in PyTorch).
#pragma once

#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::autograd::functional {

/// A function of several tensors with several outputs (PyTorch's `func(*inputs) -> tuple`).
using VectorFunction = Callback<std::vector<Tensor>(const std::vector<Tensor>&)>;
/// A function of one tensor with one output.
using TensorFunction = Callback<Tensor(const Tensor&)>;
/// A function of several tensors with one output (hessian, hvp, vhp: a scalar, e.g. a loss).
using ScalarFunction = Callback<Tensor(const std::vector<Tensor>&)>;

/// Options of vjp, jvp, hvp and vhp (PyTorch's keyword arguments, as chained setters).
struct Options {
  bool create_graph_ = false;  ///< results differentiable (with respect to inputs and v); default false
  bool strict_ = false;        ///< independence raises tg::Error instead of giving zeros; default false
  /// Sets create_graph (chainable).
  Options& create_graph(bool on = true) {
    create_graph_ = on;
    return *this;
  }
  /// Sets strict (chainable).
  Options& strict(bool on = true) {
    strict_ = on;
    return *this;
  }
};

/// Reverse mode (one pass per output element) or forward mode (one pass per input element).
enum class Strategy { reverse_mode, forward_mode };

/// Options of jacobian.
struct JacobianOptions {
  bool create_graph_ = false;  ///< the Jacobian differentiable; default false
  bool strict_ = false;        ///< an independent output/input pair raises; default false
  bool vectorize_ = false;     ///< accepted for PyTorch's signature; rows are computed one by one either way
  Strategy strategy_ = Strategy::reverse_mode;  ///< default reverse mode, as PyTorch
  /// Setters (chainable).
  ///@{
  JacobianOptions& create_graph(bool on = true) {
    create_graph_ = on;
    return *this;
  }
  JacobianOptions& strict(bool on = true) {
    strict_ = on;
    return *this;
  }
  JacobianOptions& vectorize(bool on = true) {
    vectorize_ = on;
    return *this;
  }
  JacobianOptions& strategy(Strategy s) {
    strategy_ = s;
    return *this;
  }
  ///@}
};

/// Options of hessian. The Hessian is the Jacobian of the gradient: the inner gradient is always
/// reverse mode; outer_jacobian_strategy picks the outer one (default forward mode: forward over
/// reverse, where PyTorch 1.13 defaults to reverse over reverse).
struct HessianOptions {
  bool create_graph_ = false;  ///< the Hessian differentiable; default false
  bool strict_ = false;        ///< a block independent of the inputs raises; default false
  bool vectorize_ = false;     ///< accepted for PyTorch's signature; computed one column or row at a time
  Strategy outer_jacobian_strategy_ = Strategy::forward_mode;  ///< default forward over reverse
  /// Setters (chainable).
  ///@{
  HessianOptions& create_graph(bool on = true) {
    create_graph_ = on;
    return *this;
  }
  HessianOptions& strict(bool on = true) {
    strict_ = on;
    return *this;
  }
  HessianOptions& vectorize(bool on = true) {
    vectorize_ = on;
    return *this;
  }
  HessianOptions& outer_jacobian_strategy(Strategy s) {
    outer_jacobian_strategy_ = s;
    return *this;
  }
  ///@}
};

/// What vjp, jvp, hvp and vhp return: f's output(s) at the inputs and the product (PyTorch's
/// `(func_output, result)` pair), e.g. `auto [y, g] = vjp(f, {x}, {v});`.
template <class Output, class Product>
struct WithOutput {
  Output output;    ///< f(inputs), detached unless create_graph
  Product product;  ///< the vector-Jacobian, Jacobian-vector, Hessian-vector or vector-Hessian product
};
/// Several outputs, one product per input (vjp, hvp, vhp) or per output (jvp).
using Products = WithOutput<std::vector<Tensor>, std::vector<Tensor>>;
/// One output, one product per input (vjp, hvp and vhp of a ScalarFunction).
using ScalarProducts = WithOutput<Tensor, std::vector<Tensor>>;
/// One output and one product (the single-tensor forms, and jvp of a ScalarFunction).
using TensorProduct = WithOutput<Tensor, Tensor>;

/// Vector-Jacobian product vᵀJ: product[j] = d<v, f(inputs)>/d inputs[j] (shape of inputs[j]),
/// one reverse pass. v has one tensor per output, of its shape and dtype; it may be omitted
/// (empty, or undefined) when f returns a single one-element tensor (then v = 1).
///@{
Products vjp(const VectorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
             const Options& options = {});
ScalarProducts vjp(const ScalarFunction& f, const std::vector<Tensor>& inputs, const Tensor& v = {},
                   const Options& options = {});
TensorProduct vjp(const TensorFunction& f, const Tensor& input, const Tensor& v = {}, const Options& options = {});
///@}

/// Jacobian-vector product J v: product[i] = sum_j d f_i/d inputs[j] · v[j] (shape of output i),
/// in one forward-mode pass (dual tensors; costs about what f costs, a small multiple). v has one
/// tensor per input, of its shape and dtype; it may be omitted when there is a single
/// one-element input (then v = 1).
///@{
Products jvp(const VectorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
             const Options& options = {});
TensorProduct jvp(const ScalarFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
                  const Options& options = {});
TensorProduct jvp(const TensorFunction& f, const Tensor& input, const Tensor& v = {}, const Options& options = {});
///@}

/// The Jacobian: result[i][j] = d outputs[i] / d inputs[j], of shape outputs[i].shape() +
/// inputs[j].shape(). Reverse mode runs one backward per output element, forward mode one dual
/// pass per input element (prefer it when outputs outnumber inputs).
///@{
std::vector<std::vector<Tensor>> jacobian(const VectorFunction& f, const std::vector<Tensor>& inputs,
                                          const JacobianOptions& options = {});
std::vector<Tensor> jacobian(const ScalarFunction& f, const std::vector<Tensor>& inputs,
                             const JacobianOptions& options = {});
Tensor jacobian(const TensorFunction& f, const Tensor& input, const JacobianOptions& options = {});
///@}

/// The Hessian of a scalar f (one output with one element): result[i][j] = d² f / d inputs[i]
/// d inputs[j], of shape inputs[i].shape() + inputs[j].shape(). Forward over reverse (default)
/// runs one forward-and-backward pass with a dual input per input element; reverse over reverse
/// records the gradient once and runs one backward of it per input element.
///@{
std::vector<std::vector<Tensor>> hessian(const VectorFunction& f, const std::vector<Tensor>& inputs,
                                         const HessianOptions& options = {});
std::vector<std::vector<Tensor>> hessian(const ScalarFunction& f, const std::vector<Tensor>& inputs,
                                         const HessianOptions& options = {});
Tensor hessian(const TensorFunction& f, const Tensor& input, const HessianOptions& options = {});
///@}

/// Hessian-vector product H v of a scalar f: product[i] = sum_j d² f / d inputs[i] d inputs[j] ·
/// v[j], forward over reverse (the tangent of the gradient along v: one pass, no
/// double-backward). v as for jvp.
///@{
Products hvp(const VectorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
             const Options& options = {});
ScalarProducts hvp(const ScalarFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
                   const Options& options = {});
TensorProduct hvp(const TensorFunction& f, const Tensor& input, const Tensor& v = {}, const Options& options = {});
///@}

/// Vector-Hessian product vᵀH of a scalar f: product[j] = sum_i v[i] · d² f / d inputs[i] d
/// inputs[j], reverse over reverse (the gradient recorded, then differentiated along v). Equal
/// to hvp when f is twice continuously differentiable. v as for jvp.
///@{
Products vhp(const VectorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
             const Options& options = {});
ScalarProducts vhp(const ScalarFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v = {},
                   const Options& options = {});
TensorProduct vhp(const TensorFunction& f, const Tensor& input, const Tensor& v = {}, const Options& options = {});
///@}

}  // namespace tg::autograd::functional
