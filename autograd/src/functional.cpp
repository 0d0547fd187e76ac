// Function transforms (functional.hpp), built on tg::grad (reverse mode) and forward_ad's dual
// tensors (forward mode), with torch.autograd.functional's argument handling: inputs copied
// before f sees them, strict checks, zeros for independent blocks, results detached unless
// create_graph.
#include "tapegrad/functional.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "tape.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/forward_ad.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops/shape.hpp"

namespace tg::autograd::functional {

namespace {

using Tensors = std::vector<Tensor>;
namespace fwd = tg::forward_ad;

std::string describe(const Tensor& t) { return std::string(to_string(t.dtype())) + to_string(t.shape()); }

std::string describe(const Tensors& ts) {
  std::string out = "[";
  for (std::size_t i = 0; i < ts.size(); ++i)
    out += (i ? ", " : "") + (ts[i].defined() ? describe(ts[i]) : "undefined");
  return out + "]";
}

void check_inputs(const char* fn, const Tensors& inputs) {
  if (inputs.empty()) fail(fn, ": inputs is empty (there is nothing to differentiate with respect to)");
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    if (!inputs[j].defined()) fail(fn, ": input ", j, " is undefined");
    if (!inputs[j].is_floating_point())
      fail(fn, ": input ", j, " is ", describe(inputs[j]), "; inputs must be float32 or float64");
  }
}

void check_outputs(const char* fn, const Tensors& outputs) {
  if (outputs.empty()) fail(fn, ": f returned no outputs");
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].defined()) fail(fn, ": output ", i, " of f is undefined");
    if (!outputs[i].is_floating_point())
      fail(fn, ": output ", i, " of f is ", describe(outputs[i]), "; outputs must be float32 or float64");
  }
}

/// The one output of a scalar function (hessian, hvp, vhp): a single tensor with one element.
const Tensor& scalar_output(const char* fn, const Tensors& outputs) {
  check_outputs(fn, outputs);
  if (outputs.size() != 1 || outputs[0].numel() != 1)
    fail(fn, ": f must return a single tensor with one element; it returned ", describe(outputs));
  return outputs[0];
}

/// v checked against `refs` (f's outputs for vjp, the inputs otherwise): one tensor per ref, of
/// its shape and dtype. Omitted (empty) only for a single one-element ref: then 1. Without
/// create_graph, a v that requires grad is detached (the products do not reach it).
Tensors prepare_v(const char* fn, const Tensors& v, const Tensors& refs, const char* what, bool create_graph) {
  if (v.empty()) {
    if (refs.size() != 1 || refs[0].numel() != 1)
      fail(fn, ": v may be omitted only when f has a single ", what, " with one element; its ", what, "s are ",
           describe(refs));
    return {ones_like(refs[0])};
  }
  if (v.size() != refs.size())
    fail(fn, ": v has ", v.size(), " tensor", v.size() == 1 ? "" : "s", " but f has ", refs.size(), " ", what,
         refs.size() == 1 ? "" : "s", " (one v per ", what, ")");
  Tensors out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].defined()) fail(fn, ": v[", i, "] is undefined");
    if (v[i].dtype() != refs[i].dtype() || v[i].shape() != refs[i].shape())
      fail(fn, ": v[", i, "] is ", describe(v[i]), " but ", what, " ", i, " is ", describe(refs[i]),
           " (v must match it in shape and dtype)");
    out.push_back(create_graph || !v[i].requires_grad() ? v[i] : v[i].detach());
  }
  return out;
}

/// What f is called with (PyTorch's _grad_preprocess): always new tensors, so that inputs f
/// captures are told apart from the ones it is given. With create_graph an input that requires
/// grad stays in the graph (gradients of the results reach it); otherwise a detached copy, a leaf
/// requiring grad when the transform differentiates through it (need_graph).
Tensors prepare_inputs(const Tensors& inputs, bool create_graph, bool need_graph) {
  Tensors out;
  out.reserve(inputs.size());
  for (const Tensor& x : inputs) {
    if (create_graph && x.requires_grad())
      out.push_back(x.clone());
    else if (need_graph)
      out.push_back(x.detach().requires_grad_());
    else
      out.push_back(x.requires_grad() ? x.detach() : x);  // make_dual copies it anyway
  }
  return out;
}

/// A result as returned: itself with create_graph, else without history.
Tensor finish(const Tensor& t, bool create_graph) { return create_graph || !t.requires_grad() ? t : t.detach(); }
Tensors finish(Tensors ts, bool create_graph) {
  for (Tensor& t : ts) t = finish(t, create_graph);
  return ts;
}
/// The products, each a copy where it is one of the caller's v itself (f the identity): a result
/// never shares a handle with an argument.
Tensors unshared(Tensors products, const Tensors& v) {
  for (Tensor& p : products)
    for (const Tensor& vi : v)
      if (p.is_same(vi)) p = p.detach();
  return products;
}

/// tg::grad over the outputs that require grad (the others contribute nothing); an input no
/// output depends on gets an undefined gradient. grad_outputs is empty (one-element outputs) or
/// has one tensor per output. create_graph retains the graph (the results' own derivatives run
/// through it).
Tensors grad_of(const Tensors& outputs, const Tensors& inputs, const Tensors& grad_outputs, bool create_graph,
                bool retain_graph) {
  Tensors outs, gouts;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].defined() || !outputs[i].requires_grad()) continue;
    outs.push_back(outputs[i]);
    if (!grad_outputs.empty()) gouts.push_back(grad_outputs[i]);
  }
  if (outs.empty()) return Tensors(inputs.size());
  return tg::grad(outs, inputs, gouts, retain_graph || create_graph, create_graph, /*allow_unused=*/true);
}

/// Zeros of `like`'s shape and dtype with a 1 at flat index k: one row or column of a Jacobian.
Tensor one_hot(const Tensor& like, std::size_t k) {
  Tensor e = zeros(like.shape(), like.dtype());
  if (e.dtype() == kFloat32)
    e.data_ptr<float>()[k] = 1.0f;
  else
    e.data_ptr<double>()[k] = 1.0;
  e.bump_version();
  return e;
}

/// Stacks the rows (axis 0) or columns (last axis) of one Jacobian block and gives it the shape
/// lead... + trail...; zeros of that shape when the block is independent (or empty).
Tensor assemble(const Tensors& parts, bool columns, bool independent, const Shape& lead, const Shape& trail,
                DType dtype) {
  Shape shape = lead;
  shape.insert(shape.end(), trail.begin(), trail.end());
  if (independent || parts.empty()) return zeros(shape, dtype);
  const Tensor stacked = stack(parts, columns ? static_cast<int>(lead.size()) : 0);
  return reshape(stacked, std::vector<std::int64_t>(shape.begin(), shape.end()));
}

void require_no_level(const char* fn) {
  if (fwd::is_active())
    fail(fn, ": a forward_ad::DualLevel is already active, and ", fn,
         " needs its own (nested or concurrent forward mode is not supported)");
}

void require_output_grad(const char* fn, const Tensors& outputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (!outputs[i].requires_grad())
      fail(fn, ": output ", i,
           " of f does not require grad: it is not computed differentiably from the inputs"
           " (strict mode)");
}

/// strict with create_graph: a result that does not require grad is not connected to the inputs.
void require_connected(const char* fn, const Tensor& r, const char* what, std::size_t index, bool strict,
                       bool create_graph) {
  if (strict && create_graph && !r.requires_grad())
    fail(fn, ": ", what, " ", index,
         " does not require grad, so it is independent of the inputs"
         " (strict mode with create_graph)");
}

/// A VectorFunction calling a single-tensor or scalar one (the reference lives for the call).
VectorFunction lift(const TensorFunction& f) {
  return [&f](const Tensors& x) { return Tensors{f(x[0])}; };
}
VectorFunction lift(const ScalarFunction& f) {
  return [&f](const Tensors& x) { return Tensors{f(x)}; };
}
Tensors optional_v(const Tensor& v) { return v.defined() ? Tensors{v} : Tensors{}; }

}  // namespace

// ---- vjp -----------------------------------------------------------------------------------------

Products vjp(const VectorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
             const Options& options) {
  const char* fn = "vjp";
  const bool create_graph = options.create_graph_, strict = options.strict_;
  check_inputs(fn, inputs);
  EnableGradGuard grad_on;
  const Tensors x = prepare_inputs(inputs, create_graph, /*need_graph=*/true);
  const Tensors out = f(x);
  check_outputs(fn, out);
  if (strict) require_output_grad(fn, out);
  const Tensors w = prepare_v(fn, v, out, "output", create_graph);
  Tensors g = grad_of(out, x, w, create_graph, /*retain_graph=*/false);
  for (std::size_t j = 0; j < g.size(); ++j) {
    if (!g[j].defined()) {
      if (strict) fail(fn, ": the outputs of f are independent of input ", j, " (strict mode)");
      g[j] = zeros_like(x[j]);
      continue;
    }
    require_connected(fn, g[j], "the product for input", j, strict, create_graph);
  }
  return {finish(out, create_graph), unshared(finish(std::move(g), create_graph), v)};
}

ScalarProducts vjp(const ScalarFunction& f, const std::vector<Tensor>& inputs, const Tensor& v,
                   const Options& options) {
  Products r = vjp(lift(f), inputs, optional_v(v), options);
  return {r.output[0], std::move(r.product)};
}

TensorProduct vjp(const TensorFunction& f, const Tensor& input, const Tensor& v, const Options& options) {
  Products r = vjp(lift(f), {input}, optional_v(v), options);
  return {r.output[0], r.product[0]};
}

// ---- jvp -----------------------------------------------------------------------------------------

Products jvp(const VectorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
             const Options& options) {
  const char* fn = "jvp";
  const bool create_graph = options.create_graph_, strict = options.strict_;
  check_inputs(fn, inputs);
  const Tensors w = prepare_v(fn, v, inputs, "input", create_graph);
  require_no_level(fn);
  EnableGradGuard grad_on;
  // strict records f (inputs requiring grad) to find inputs no output depends on. Otherwise f
  // sees only the duals, copies made with recording off: leaves outside any graph.
  const bool need_graph = create_graph || strict;
  const Tensors x = need_graph ? prepare_inputs(inputs, create_graph, true) : inputs;
  Tensors out, tangents;
  {
    fwd::DualLevel level;
    Tensors duals;
    duals.reserve(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
      std::optional<NoGradGuard> no_grad;
      if (!need_graph) no_grad.emplace();
      duals.push_back(fwd::make_dual(x[j], w[j]));
    }
    out = f(duals);
    check_outputs(fn, out);
    for (std::size_t i = 0; i < out.size(); ++i) {
      Tensor t = tg::detail::live_tangent(fn, out[i]);
      if (!t.defined()) {
        if (strict) fail(fn, ": output ", i, " of f is independent of the inputs (strict mode)");
        t = zeros_like(out[i]);
      }
      tangents.push_back(std::move(t));
    }
  }  // the level's end clears the outputs' tangents; `tangents` keeps the values
  for (std::size_t i = 0; i < tangents.size(); ++i)
    require_connected(fn, tangents[i], "the product for output", i, strict, create_graph);
  if (strict) {
    // Which inputs reach an output: a reverse pass (the seeds' values do not matter).
    Tensors seeds;
    for (const Tensor& o : out) seeds.push_back(zeros_like(o));
    const Tensors g = grad_of(out, x, seeds, false, /*retain_graph=*/create_graph);
    for (std::size_t j = 0; j < g.size(); ++j)
      if (!g[j].defined()) fail(fn, ": the outputs of f are independent of input ", j, " (strict mode)");
  }
  return {finish(std::move(out), create_graph), unshared(finish(std::move(tangents), create_graph), v)};
}

TensorProduct jvp(const ScalarFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
                  const Options& options) {
  Products r = jvp(lift(f), inputs, v, options);
  return {r.output[0], r.product[0]};
}

TensorProduct jvp(const TensorFunction& f, const Tensor& input, const Tensor& v, const Options& options) {
  Products r = jvp(lift(f), {input}, optional_v(v), options);
  return {r.output[0], r.product[0]};
}

// ---- jacobian ------------------------------------------------------------------------------------

namespace {

using Blocks = std::vector<std::vector<Tensor>>;

/// Row by row: one backward per element of each output, each giving row k of every block [i][j].
Blocks jacobian_reverse(const VectorFunction& f, const Tensors& inputs, bool create_graph, bool strict) {
  const char* fn = "jacobian";
  EnableGradGuard grad_on;
  const Tensors x = prepare_inputs(inputs, create_graph, /*need_graph=*/true);
  const Tensors out = f(x);
  check_outputs(fn, out);
  if (strict) require_output_grad(fn, out);
  Blocks result(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::vector<Tensors> rows(x.size());
    std::vector<bool> independent(x.size(), !out[i].requires_grad());
    for (std::size_t k = 0; k < out[i].numel() && out[i].requires_grad(); ++k) {
      const Tensors g = tg::grad({out[i]}, x, {one_hot(out[i], k)}, /*retain_graph=*/true, create_graph,
                                 /*allow_unused=*/true);
      for (std::size_t j = 0; j < x.size(); ++j) {
        if (!g[j].defined()) {  // the same for every row: the graph does not reach input j
          if (strict) fail(fn, ": output ", i, " of f is independent of input ", j, " (strict mode)");
          independent[j] = true;
          continue;
        }
        require_connected(fn, g[j], "the Jacobian of output", i, strict, create_graph);
        rows[j].push_back(g[j]);
      }
    }
    for (std::size_t j = 0; j < x.size(); ++j)
      result[i].push_back(
          assemble(rows[j], /*columns=*/false, independent[j], out[i].shape(), x[j].shape(), x[j].dtype()));
  }
  return result;
}

/// Column by column: one dual pass per element of each input, its tangent the one-hot column.
Blocks jacobian_forward(const VectorFunction& f, const Tensors& inputs, bool create_graph, bool strict) {
  const char* fn = "jacobian";
  require_no_level(fn);
  EnableGradGuard grad_on;
  const Tensors x = prepare_inputs(inputs, create_graph, /*need_graph=*/create_graph);
  // f's outputs at the first pass (their count, shapes and dtypes), and columns[j][i], the
  // columns of block [i][j].
  Tensors shapes_of;
  std::vector<std::vector<Tensors>> columns(x.size());
  std::vector<std::vector<bool>> independent(x.size());
  for (std::size_t j = 0; j < x.size(); ++j) {
    for (std::size_t k = 0; k < x[j].numel(); ++k) {
      fwd::DualLevel level;
      Tensors duals = x;
      duals[j] = fwd::make_dual(x[j], one_hot(x[j], k));
      const Tensors out = f(duals);
      check_outputs(fn, out);
      if (shapes_of.empty()) {
        for (const Tensor& o : out) shapes_of.push_back(zeros(o.shape(), o.dtype()));
      } else if (out.size() != shapes_of.size()) {
        fail(fn, ": f returned ", shapes_of.size(), " outputs, then ", out.size());
      }
      if (columns[j].empty()) {
        columns[j].resize(out.size());
        independent[j].assign(out.size(), false);
      }
      for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i].shape() != shapes_of[i].shape() || out[i].dtype() != shapes_of[i].dtype())
          fail(fn, ": output ", i, " of f was ", describe(shapes_of[i]), ", then ", describe(out[i]));
        const Tensor t = tg::detail::live_tangent(fn, out[i]);
        if (!t.defined()) {
          if (strict) fail(fn, ": output ", i, " of f is independent of input ", j, " (strict mode)");
          independent[j][i] = true;
          continue;
        }
        require_connected(fn, t, "the Jacobian of output", i, strict, create_graph);
        columns[j][i].push_back(t);
      }
    }
  }
  if (shapes_of.empty()) {  // every input is empty: f's outputs give the blocks' shapes
    const Tensors out = f(x);
    check_outputs(fn, out);
    shapes_of = out;
  }
  Blocks result(shapes_of.size());
  for (std::size_t i = 0; i < shapes_of.size(); ++i)
    for (std::size_t j = 0; j < x.size(); ++j) {
      const bool none = columns[j].empty();  // input j has no elements
      result[i].push_back(assemble(none ? Tensors{} : columns[j][i], /*columns=*/true, none || independent[j][i],
                                   shapes_of[i].shape(), x[j].shape(), shapes_of[i].dtype()));
    }
  return result;
}

Blocks finish(Blocks blocks, bool create_graph) {
  for (Tensors& row : blocks) row = finish(std::move(row), create_graph);
  return blocks;
}

}  // namespace

std::vector<std::vector<Tensor>> jacobian(const VectorFunction& f, const std::vector<Tensor>& inputs,
                                          const JacobianOptions& options) {
  check_inputs("jacobian", inputs);
  const bool forward = options.strategy_ == Strategy::forward_mode;
  return finish(forward ? jacobian_forward(f, inputs, options.create_graph_, options.strict_)
                        : jacobian_reverse(f, inputs, options.create_graph_, options.strict_),
                options.create_graph_);
}

std::vector<Tensor> jacobian(const ScalarFunction& f, const std::vector<Tensor>& inputs,
                             const JacobianOptions& options) {
  return jacobian(lift(f), inputs, options)[0];
}

Tensor jacobian(const TensorFunction& f, const Tensor& input, const JacobianOptions& options) {
  return jacobian(lift(f), {input}, options)[0][0];
}

// ---- hessian -------------------------------------------------------------------------------------

namespace {

/// Forward over reverse: for each element k of each input j, the tangent (along e_k on input j)
/// of the gradient, column k of every block [i][j].
Blocks hessian_forward_over_reverse(const VectorFunction& f, const Tensors& inputs, bool create_graph, bool strict) {
  const char* fn = "hessian";
  require_no_level(fn);
  EnableGradGuard grad_on;
  const Tensors x = prepare_inputs(inputs, create_graph, /*need_graph=*/true);
  std::vector<std::vector<Tensors>> columns(x.size(), std::vector<Tensors>(x.size()));  // [j][i]
  std::vector<std::vector<bool>> independent(x.size(), std::vector<bool>(x.size(), false));
  for (std::size_t j = 0; j < x.size(); ++j) {
    for (std::size_t k = 0; k < x[j].numel(); ++k) {
      fwd::DualLevel level;
      Tensors duals = x;
      duals[j] = fwd::make_dual(x[j], one_hot(x[j], k));
      const Tensor y = scalar_output(fn, f(duals));
      if (strict) require_output_grad(fn, {y});
      const Tensors g = grad_of({y}, duals, {}, create_graph, /*retain_graph=*/false);
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!g[i].defined()) {
          if (strict) fail(fn, ": f is independent of input ", i, " (strict mode)");
          independent[j][i] = true;
          continue;
        }
        const Tensor t = tg::detail::live_tangent(fn, g[i]);
        if (!t.defined()) {
          if (strict)
            fail(fn, ": the gradient with respect to input ", i, " is independent of input ", j, " (strict mode)");
          independent[j][i] = true;
          continue;
        }
        require_connected(fn, t, "the Hessian row of input", i, strict, create_graph);
        columns[j][i].push_back(t);
      }
    }
  }
  Blocks result(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t j = 0; j < x.size(); ++j)
      result[i].push_back(
          assemble(columns[j][i], /*columns=*/true, independent[j][i], x[i].shape(), x[j].shape(), x[i].dtype()));
  return result;
}

/// Reverse over reverse: the gradient recorded once, then one backward of it per element.
Blocks hessian_reverse_over_reverse(const VectorFunction& f, const Tensors& inputs, bool create_graph, bool strict) {
  const char* fn = "hessian";
  EnableGradGuard grad_on;
  const Tensors x = prepare_inputs(inputs, create_graph, /*need_graph=*/true);
  const Tensor y = scalar_output(fn, f(x));
  if (strict) require_output_grad(fn, {y});
  const Tensors g = grad_of({y}, x, {}, /*create_graph=*/true, /*retain_graph=*/true);
  Blocks result(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (strict && !g[i].defined()) fail(fn, ": f is independent of input ", i, " (strict mode)");
    if (strict && !g[i].requires_grad())
      fail(fn, ": the gradient with respect to input ", i, " is independent of the inputs (strict mode)");
    // A gradient that does not require grad is constant: its row of blocks is zero.
    const bool varies = g[i].defined() && g[i].requires_grad();
    std::vector<Tensors> rows(x.size());
    std::vector<bool> independent(x.size(), !varies);
    for (std::size_t k = 0; k < x[i].numel() && varies; ++k) {
      const Tensors h = tg::grad({g[i]}, x, {one_hot(g[i], k)}, /*retain_graph=*/true, create_graph,
                                 /*allow_unused=*/true);
      for (std::size_t j = 0; j < x.size(); ++j) {
        if (!h[j].defined()) {
          if (strict)
            fail(fn, ": the gradient with respect to input ", i, " is independent of input ", j, " (strict mode)");
          independent[j] = true;
          continue;
        }
        require_connected(fn, h[j], "the Hessian row of input", i, strict, create_graph);
        rows[j].push_back(h[j]);
      }
    }
    for (std::size_t j = 0; j < x.size(); ++j)
      result[i].push_back(
          assemble(rows[j], /*columns=*/false, independent[j], x[i].shape(), x[j].shape(), x[j].dtype()));
  }
  return result;
}

}  // namespace

std::vector<std::vector<Tensor>> hessian(const VectorFunction& f, const std::vector<Tensor>& inputs,
                                         const HessianOptions& options) {
  check_inputs("hessian", inputs);
  const bool forward = options.outer_jacobian_strategy_ == Strategy::forward_mode;
  return finish(forward ? hessian_forward_over_reverse(f, inputs, options.create_graph_, options.strict_)
                        : hessian_reverse_over_reverse(f, inputs, options.create_graph_, options.strict_),
                options.create_graph_);
}

std::vector<std::vector<Tensor>> hessian(const ScalarFunction& f, const std::vector<Tensor>& inputs,
                                         const HessianOptions& options) {
  return hessian(lift(f), inputs, options);
}

Tensor hessian(const TensorFunction& f, const Tensor& input, const HessianOptions& options) {
  return hessian(lift(f), {input}, options)[0][0];
}

// ---- hvp and vhp ---------------------------------------------------------------------------------

Products hvp(const VectorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
             const Options& options) {
  const char* fn = "hvp";
  const bool create_graph = options.create_graph_, strict = options.strict_;
  check_inputs(fn, inputs);
  const Tensors w = prepare_v(fn, v, inputs, "input", create_graph);
  require_no_level(fn);
  EnableGradGuard grad_on;
  const Tensors x = prepare_inputs(inputs, create_graph, /*need_graph=*/true);
  Tensor y;
  Tensors products;
  {
    fwd::DualLevel level;
    Tensors duals;
    duals.reserve(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) duals.push_back(fwd::make_dual(x[j], w[j]));
    y = scalar_output(fn, f(duals));
    if (strict) require_output_grad(fn, {y});
    // The gradient's tangent along v is H v (forward over reverse).
    const Tensors g = grad_of({y}, duals, {}, create_graph, /*retain_graph=*/false);
    for (std::size_t i = 0; i < x.size(); ++i) {
      Tensor t = g[i].defined() ? tg::detail::live_tangent(fn, g[i]) : Tensor();
      if (!t.defined()) {
        if (strict && !g[i].defined()) fail(fn, ": f is independent of input ", i, " (strict mode)");
        if (strict) fail(fn, ": the gradient with respect to input ", i, " is independent of the inputs (strict mode)");
        t = zeros_like(x[i]);
      }
      products.push_back(std::move(t));
    }
  }
  for (std::size_t i = 0; i < products.size(); ++i)
    require_connected(fn, products[i], "the product for input", i, strict, create_graph);
  return {{finish(y, create_graph)}, unshared(finish(std::move(products), create_graph), v)};
}

ScalarProducts hvp(const ScalarFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
                   const Options& options) {
  Products r = hvp(lift(f), inputs, v, options);
  return {r.output[0], std::move(r.product)};
}

TensorProduct hvp(const TensorFunction& f, const Tensor& input, const Tensor& v, const Options& options) {
  Products r = hvp(lift(f), {input}, optional_v(v), options);
  return {r.output[0], r.product[0]};
}

Products vhp(const VectorFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
             const Options& options) {
  const char* fn = "vhp";
  const bool create_graph = options.create_graph_, strict = options.strict_;
  check_inputs(fn, inputs);
  const Tensors w = prepare_v(fn, v, inputs, "input", create_graph);
  EnableGradGuard grad_on;
  const Tensors x = prepare_inputs(inputs, create_graph, /*need_graph=*/true);
  const Tensor y = scalar_output(fn, f(x));
  if (strict) require_output_grad(fn, {y});
  const Tensors g = grad_of({y}, x, {}, /*create_graph=*/true, /*retain_graph=*/true);
  for (std::size_t i = 0; i < g.size() && strict; ++i) {
    if (!g[i].defined()) fail(fn, ": f is independent of input ", i, " (strict mode)");
    if (!g[i].requires_grad())
      fail(fn, ": the gradient with respect to input ", i, " is independent of the inputs (strict mode)");
  }
  Tensors products = grad_of(g, x, w, create_graph, /*retain_graph=*/false);
  for (std::size_t j = 0; j < products.size(); ++j) {
    if (!products[j].defined()) {
      if (strict) fail(fn, ": the gradient of f is independent of input ", j, " (strict mode)");
      products[j] = zeros_like(x[j]);
      continue;
    }
    require_connected(fn, products[j], "the product for input", j, strict, create_graph);
  }
  return {{finish(y, create_graph)}, unshared(finish(std::move(products), create_graph), v)};
}

ScalarProducts vhp(const ScalarFunction& f, const std::vector<Tensor>& inputs, const std::vector<Tensor>& v,
                   const Options& options) {
  Products r = vhp(lift(f), inputs, v, options);
  return {r.output[0], std::move(r.product)};
}

TensorProduct vhp(const TensorFunction& f, const Tensor& input, const Tensor& v, const Options& options) {
  Products r = vhp(lift(f), {input}, optional_v(v), options);
  return {r.output[0], r.product[0]};
}

}  // namespace tg::autograd::functional
