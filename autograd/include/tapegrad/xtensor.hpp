/// \file
/// Opt-in xtensor access to tensors: tg::Tensor from an xt::xarray or xtensor expression, and
/// value<T>() / mutable_value<T>() / to_double() as xt::xarray. Kept out of tensor.hpp because
/// xtensor's headers cost more to compile than the rest of tapegrad's public headers together.
///
/// \code{.cpp}
///   #include <tapegrad/tapegrad.hpp>
///   #include <tapegrad/xtensor.hpp>
///   tg::Tensor x(xt::xarray<double>{{1, 2}, {3, 4}}, /*requires_grad=*/true);
///   const xt::xarray<double>& v = x.value<double>();
/// \endcode
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include <xtensor/xarray.hpp>

#include "tapegrad/tensor.hpp"

namespace tg {
namespace detail {

template <class T> struct XArray { using type = xt::xarray<T>; };

template <class T> inline constexpr bool is_element_v =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, bool>;

/// Wraps an array in a new leaf (moved in); defined in tensor.cpp for the four element types.
Tensor make_tensor(xt::xarray<float>&& values, bool requires_grad);
Tensor make_tensor(xt::xarray<double>&& values, bool requires_grad);
Tensor make_tensor(xt::xarray<std::int64_t>&& values, bool requires_grad);
Tensor make_tensor(xt::xarray<bool>&& values, bool requires_grad);
xt::xarray<double> to_double_array(const Tensor& t);

template <class E>
struct FromXtensor<E, std::enable_if_t<xt::is_xexpression<E>::value &&
                                       is_element_v<typename E::value_type>>> {
  using type = void;
  template <class A>
  static Tensor make(A&& values, bool requires_grad) {
    using T = typename E::value_type;
    if constexpr (std::is_same_v<std::decay_t<A>, xt::xarray<T>> && !std::is_lvalue_reference_v<A>)
      // An rvalue here.
      return make_tensor(std::move(values), requires_grad);  // NOLINT(bugprone-move-forwarding-reference)
    else
      return make_tensor(xt::xarray<T>(std::forward<A>(values)), requires_grad);
  }
};

}  // namespace detail

// (Spelled as declared in tensor.hpp, which cannot name xt::xarray.)
template <class T>
const typename detail::XArray<T>::type& Tensor::value() const {
  const detail::TensorHead& h = head();
  if (h.dtype != dtype_of<T>::value) detail::fail_value_dtype(dtype_of<T>::value, h.dtype);
  return *static_cast<const xt::xarray<T>*>(h.array);
}

template <class T>
typename detail::XArray<T>::type& Tensor::mutable_value() {
  auto& v = const_cast<xt::xarray<T>&>(value<T>());
  bump_version();
  return v;
}

template <class D>
typename detail::XArray<D>::type Tensor::to_double() const {
  static_assert(std::is_same_v<D, double>, "to_double() takes no template argument");
  return detail::to_double_array(*this);
}

/// A tensor holding a copy of an array of doubles, converted to options.dtype (to int64 as
/// Tensor::to does).
Tensor from_double(const xt::xarray<double>& values, TensorOptions options = {});

}  // namespace tg
