/// \file
/// gradcheck: compares the derivatives autograd computes with central finite differences, for
/// use in users' own test suites (as torch.autograd.gradcheck).
///
/// \code{.cpp}
///   auto report = tg::gradcheck([](const std::vector<tg::Tensor>& x) { return tanh(x[0]) * x[1]; },
///                               {a, b}, tg::GradcheckOptions().fast_mode(true).check_forward_ad(true));
///   REQUIRE(report);            // prints the worst element per input when it fails (operator<<)
/// \endcode
///
/// What is checked, for every input that requires grad (all float64):
/// - Slow mode (the default): the full Jacobian, each row by a backward pass (a one-hot upstream
///   gradient), each column by central differences; an entry passes when
///   |analytic - numerical| <= atol + rtol |numerical|.
/// - Fast mode (PyTorch's fast gradcheck): random vectors u (per input) and v (per output), each
///   uniform on [0, 1) and scaled to unit norm, drawn from a generator of gradcheck's own (seed()),
///   so the caller's random stream is untouched. For each input i and output o it compares
///   v^T J u analytic (one backward pass per output with upstream v, dotted with u) with v^T times
///   the numerical directional derivative (f(x + eps u) - f(x - eps u)) / 2 eps: two evaluations
///   per input instead of two per input element. The tolerance is rtol |numerical| plus atol
///   scaled by sum(u) sum(v), the v^T E u of an all-atol error matrix E (as PyTorch). When a pair
///   fails, the slow check of that input runs to find the worst element, which the report gives.
/// - nondet_tol: every analytic Jacobian (or v^T J in fast mode) is computed twice; the two may
///   differ by at most nondet_tol (default 0: backward must be deterministic, as PyTorch).
/// - check_forward_ad: the same comparison for forward mode (forward_ad.hpp): Jacobian columns
///   from dual inputs with one-hot tangents (fast mode: J u from one tangent u per input)
///   against the numerical ones.
/// - check_undefined_grad (default on, as PyTorch): a backward whose upstream gradients are all
///   zero, and (several outputs) one whose upstream leaves out one output (an undefined
///   gradient for it), must give input gradients that are undefined or zero, and not throw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/tensor.hpp"

namespace tg {

/// \cond INTERNAL
/// A libtorch-style option: a chainable setter name(value) and a getter name().
#define TG_GRADCHECK_OPTION(type, name, initial) \
 public:                                         \
  GradcheckOptions& name(type value) {           \
    name##_ = value;                             \
    return *this;                                \
  }                                              \
  type name() const { return name##_; }          \
                                                 \
 private:                                        \
  type name##_ = initial;
/// \endcond

/// Options of gradcheck and gradgradcheck, with chainable setters as libtorch's option structs:
/// `GradcheckOptions().fast_mode(true).atol(1e-6)`; `atol()` and the like read them back.
/// Defaults are PyTorch's.
class GradcheckOptions {
  /// Finite-difference step (central differences).
  TG_GRADCHECK_OPTION(double, eps, 1e-6)
  /// Absolute tolerance.
  TG_GRADCHECK_OPTION(double, atol, 1e-5)
  /// Relative tolerance.
  TG_GRADCHECK_OPTION(double, rtol, 1e-3)
  /// Compare v^T J u for random u, v instead of the full Jacobian (see the file comment).
  TG_GRADCHECK_OPTION(bool, fast_mode, false)
  /// How much two backward passes with the same upstream gradient may differ.
  TG_GRADCHECK_OPTION(double, nondet_tol, 0.0)
  /// Also check forward mode (JVPs) against the numerical Jacobian.
  TG_GRADCHECK_OPTION(bool, check_forward_ad, false)
  /// Also check that zero or missing upstream gradients give zero or undefined input gradients.
  TG_GRADCHECK_OPTION(bool, check_undefined_grad, true)
  /// gradgradcheck only: also check forward-over-reverse (the JVP of the backward pass).
  TG_GRADCHECK_OPTION(bool, check_fwd_over_rev, false)
  /// Seed of the generator fast mode draws u and v from.
  TG_GRADCHECK_OPTION(std::uint64_t, seed, 0x5eed)
 public:
  GradcheckOptions() = default;
};
#undef TG_GRADCHECK_OPTION

/// What gradcheck found for one input that requires grad, in one mode (reverse or forward).
struct GradcheckInputReport {
  std::size_t input = 0;                 ///< position in the inputs vector
  Shape shape;                           ///< the input's shape
  bool passed = true;                    ///< every element (fast mode: every v^T J u) within tolerance
  double max_abs_error = 0;              ///< max |analytic - numerical| over the Jacobian block
  double max_rel_error = 0;              ///< max |analytic - numerical| / max(|numerical|, 1e-12)
  std::size_t worst_output = 0;          ///< flat output index of the worst Jacobian entry
  std::vector<std::size_t> worst_index;  ///< index into the input of the worst entry
  /// The analytic and the numerical value at the worst entry.
  ///@{
  double analytic = 0, numerical = 0;
  ///@}
  /// Fast mode: the worst (v^T J u analytic, numerical) pair, its output tensor and its tolerance.
  /// max_abs_error and max_rel_error are then those of v^T J u, unless the slow check ran (a
  /// failure), which fills the element-wise fields above.
  ///@{
  bool fast = false;
  bool slow_rerun = false;  ///< the slow check of this input ran after fast mode failed
  std::size_t fast_output = 0;
  double fast_analytic = 0, fast_numerical = 0, fast_tolerance = 0;
  ///@}
};

/// The result of gradcheck / gradgradcheck: converts to bool (passed) and prints as a report.
struct GradcheckReport {
  bool passed = true;                                ///< every check passed
  std::string what = "gradcheck";                    ///< "gradcheck" or "gradgradcheck"
  GradcheckOptions options;                          ///< the options used
  std::vector<GradcheckInputReport> inputs;          ///< reverse mode: one report per input that requires grad
  std::vector<GradcheckInputReport> forward_inputs;  ///< forward mode (check_forward_ad), likewise
  double nondet_max_diff = 0;                        ///< largest difference between two runs of the same backward
  std::vector<std::string> failures;                 ///< failed checks other than the comparisons (one line each)
  /// passed.
  explicit operator bool() const { return passed; }
  /// A multi-line summary: one line per input, with the worst element on failure.
  std::string to_string() const;
};
/// Prints report.to_string().
std::ostream& operator<<(std::ostream& os, const GradcheckReport& report);

/// A function under test with several outputs.
using MultiFunction = Callback<std::vector<Tensor>(const std::vector<Tensor>&)>;
/// A function under test with one output.
using SingleFunction = Callback<Tensor(const std::vector<Tensor>&)>;

/// Checks the derivatives of f at `inputs` for every input that requires grad, as the options say
/// (file comment). f is called with the inputs themselves (analytic), with copies of them whose
/// values are perturbed (numerical, under NoGradGuard), and with dual copies (forward mode).
/// Outputs that do not require grad count as constant. Throws tg::Error for non-float64 inputs
/// or when no input requires grad.
GradcheckReport gradcheck(const SingleFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckReport gradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

/// Second order: gradchecks (inputs, w) -> grad(f(inputs), inputs, w, create_graph=true), i.e.
/// the derivatives of the backward pass itself, with respect to the inputs and the upstream
/// gradient w. w defaults to a fixed pseudo-random tensor per output. With check_fwd_over_rev,
/// forward mode through the backward pass is checked too (the JVP of a gradient: Hessian-vector
/// products), as PyTorch's gradgradcheck(check_fwd_over_rev=True).
GradcheckReport gradgradcheck(const SingleFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {}, const std::vector<Tensor>& grad_outputs = {});
GradcheckReport gradgradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {}, const std::vector<Tensor>& grad_outputs = {});

}  // namespace tg
