// Private helpers for the optimizers' update loops: raw, typed access to a parameter, its
// gradient and its state, so each update rule reads as one loop over the elements.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "parallel.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::optim::detail {

/// One parameter of element type T (float or double) during an update: its values (written in
/// place), its gradient and its state, whose entries are created on first use.
template <class T>
struct ParamUpdate {
  Tensor param;
  Tensor grad_tensor;  // holds the gradient alive while `grad` points into it
  ParamState& state;
  T* x;
  const T* grad;
  std::size_t n;

  ParamUpdate(Tensor p, ParamState& s)
      : param(p), grad_tensor(p.grad()), state(s),
        x(param.mutable_value<T>().data()),
        grad(grad_tensor.value<T>().data()),
        n(param.numel()) {}

  bool has(const std::string& name) const { return state.count(name) != 0; }

  /// The buffer `name` (parameter's shape and dtype), created filled with `init` when missing.
  T* buffer(const std::string& name, double init = 0.0) {
    auto it = state.find(name);
    if (it == state.end()) it = state.emplace(name, full_like(param, init)).first;
    if (it->second.numel() != n)
      fail("optimizer state '", name, "' has shape ", to_string(it->second.shape()),
           " but its parameter has shape ", to_string(param.shape()),
           " (was the state dict saved for another model?)");
    return it->second.template mutable_value<T>().data();
  }
  /// The int64 counter `name` (e.g. "step"), starting at 0.
  std::int64_t& counter(const std::string& name) {
    auto it = state.find(name);
    if (it == state.end()) it = state.emplace(name, Tensor(xt::xarray<std::int64_t>(0))).first;
    return it->second.template mutable_value<std::int64_t>().data()[0];
  }
  /// The float64 scalar `name`, starting at init.
  double& scalar(const std::string& name, double init) {
    auto it = state.find(name);
    if (it == state.end()) it = state.emplace(name, tensor(init, kFloat64)).first;
    return it->second.template mutable_value<double>().data()[0];
  }
};

/// Runs elements(begin, end) over a parameter's n elements; long parameters are split across
/// the threads (tapegrad/threads.hpp). Each element's update is independent of the others, so
/// the result is the same bits on any number of threads.
template <class F>
void for_elements(std::size_t n, F&& elements) {
  tg::detail::parallel_for(n, tg::detail::kParallelMinChunk, elements);
}

/// Calls update(ParamUpdate<T>&) with T the parameter's element type.
template <class F>
void visit_param(Tensor& param, ParamState& state, F&& update) {
  if (param.dtype() == kFloat64) {
    ParamUpdate<double> p(param, state);
    update(p);
  } else {
    ParamUpdate<float> p(param, state);
    update(p);
  }
}

/// Compiles an update function three times, for x86-64 CPUs with AVX-512 (x86-64-v4), with AVX2
/// and FMA (x86-64-v3) and for the baseline, and picks the clone once at load time. The
/// optimizers' element loops then run 16 or 8 floats per instruction instead of one libm fmaf
/// call per element; Adam's loop is bound by its square root and division, so 16 lanes count
/// (the mlp's Adam step: 83 us with AVX2, 48 us with AVX-512, on one core). All clones compute the
/// same bits: fused() is one correctly rounded fma either way (an instruction or libm's fmaf),
/// sqrt and division are correctly rounded, and the library is built with -ffp-contract=off so
/// the compiler fuses no other a * b + c on its own (and -fno-math-errno, which lets sqrt
/// vectorise). The cloned function gets plain arrays and constants and must not throw: with
/// GCC 12 an exception leaving a clone ends in std::terminate.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define TG_VECTORIZE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TG_VECTORIZE
#endif

/// a * b + c with a single rounding. PyTorch's CPU kernels (compiled for AVX2) evaluate
/// `x.add_(y, alpha)` as fma(alpha, y, x) and `x.addcmul_(y, z, value)` as fma(value * y, z, x);
/// doing the same keeps tapegrad's trajectories equal to PyTorch's to the last bit, which matters
/// for L-BFGS, whose iterations amplify rounding differences.
template <class T>
inline T fused(T a, T b, T c) {
  return std::fma(a, b, c);
}

/// Throws "<optimizer>: invalid <what>: <value> (<rule>)" unless ok and value is finite (every
/// option is a finite number: a NaN or infinite one, e.g. read back from a damaged state dict,
/// would turn the parameters into NaN at the next step).
inline void check_option(bool ok, const char* optimizer, const char* what, double value,
                         const char* rule) {
  if (!ok || !std::isfinite(value))
    fail(optimizer, ": invalid ", what, ": ", value, " (", rule, ", and finite)");
}

}  // namespace tg::optim::detail
