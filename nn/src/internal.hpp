// Private helpers shared by the nn sources.
#pragma once

#include <string>

#include <xtensor/xarray.hpp>

#include "tapegrad/tensor.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::nn::detail {

/// Copies src's values into dst in place; dtype and shape must already match.
void copy_values(Tensor& dst, const Tensor& src);

/// Replaces dst's values (any dtype and shape) by src's, in place, keeping dst's handle. Only
/// for leaves: this is the equivalent of libtorch's set_data.
void replace_values(Tensor& dst, const Tensor& src);

/// Calls f(xt::xarray<T>&) with the writable float32 or float64 values of t, or throws naming op.
template <class F>
void visit_floating_mut(const char* op, Tensor& t, F&& f) {
  if (!t.defined() || !t.is_floating_point())
    fail(op, ": expected a float32 or float64 tensor");
  if (t.dtype() == kFloat32)
    f(t.mutable_value<float>());
  else
    f(t.mutable_value<double>());
}

}  // namespace tg::nn::detail
