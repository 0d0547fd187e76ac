/// \file
/// gradcheck: compares the analytic vector-Jacobian products autograd computes with central
/// finite differences, for use in users' own test suites.
///
/// \code{.cpp}
///   auto report = tg::gradcheck([](const std::vector<tg::Tensor>& x) { return tanh(x[0]) * x[1]; },
///                               {a, b});
///   REQUIRE(report);            // prints the worst element per input when it fails (operator<<)
/// \endcode
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/tensor.hpp"

namespace tg {

/// Tolerances and step. An element passes when |analytic - numerical| <= atol + rtol |numerical|.
struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step (central differences)
  double atol = 1e-5;  ///< absolute tolerance
  double rtol = 1e-3;  ///< relative tolerance
};

/// What gradcheck found for one input that requires grad.
struct GradcheckInputReport {
  std::size_t input = 0;          ///< position in the inputs vector
  Shape shape;                    ///< the input's shape
  bool passed = true;             ///< every element within tolerance
  double max_abs_error = 0;       ///< max |analytic - numerical| over the Jacobian block
  double max_rel_error = 0;       ///< max |analytic - numerical| / max(|numerical|, 1e-12)
  std::size_t worst_output = 0;   ///< flat output index of the worst Jacobian entry
  std::vector<std::size_t> worst_index;  ///< index into the input of the worst entry
  /// The analytic and the numerical value at the worst entry.
  ///@{
  double analytic = 0, numerical = 0;
  ///@}
};

/// The result of gradcheck / gradgradcheck: converts to bool (passed) and prints as a report.
struct GradcheckReport {
  bool passed = true;                        ///< every input passed
  std::string what = "gradcheck";            ///< "gradcheck" or "gradgradcheck"
  GradcheckOptions options;                  ///< the tolerances and step used
  std::vector<GradcheckInputReport> inputs;  ///< one report per input that requires grad
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

/// Checks the full Jacobian of f at `inputs` for every input that requires grad: each row by a
/// backward pass (tg::grad with a one-hot upstream), each column by central differences in
/// float64 (inputs must be float64). Throws tg::Error for non-float64 inputs or when no input
/// requires grad.
GradcheckReport gradcheck(const SingleFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckReport gradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

/// Second order: gradchecks (inputs, w) -> grad(f(inputs), inputs, w, create_graph=true), i.e.
/// the derivatives of the backward pass itself, with respect to the inputs and the upstream
/// gradient w. w defaults to a fixed pseudo-random tensor per output.
GradcheckReport gradgradcheck(const SingleFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {},
                              const std::vector<Tensor>& grad_outputs = {});
GradcheckReport gradgradcheck(const MultiFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {},
                              const std::vector<Tensor>& grad_outputs = {});

}  // namespace tg
