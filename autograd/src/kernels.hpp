// Private helpers shared by the op files: dtype dispatch, shape checks, raw elementwise loops.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <xtensor/xarray.hpp>
#include <xtensor/xstrides.hpp>

#include "buffer_cache.hpp"
#include "checked.hpp"
#include "strided.hpp"
#include "tape.hpp"
#include "tapegrad/error.hpp"
#include "tapegrad/memory.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::detail {

/// The element type of an xarray (or of a const reference to one), inside generic lambdas.
template <class A>
using elem_t = typename std::decay_t<A>::value_type;

/// A shape as reshape() takes it.
inline std::vector<std::int64_t> as_i64(const Shape& s) { return std::vector<std::int64_t>(s.begin(), s.end()); }

template <class T>
Shape shape_of(const xt::xarray<T>& a) {
  return Shape(a.shape().begin(), a.shape().end());
}

inline const Value& value_of(const Tensor& t) { return t.impl()->value; }

/// Throws unless t is defined.
void require_defined(const char* op, const Tensor& t);
/// Throws unless t is float32/float64.
void require_floating(const char* op, const Tensor& t);
/// Throws unless a and b are defined floating tensors of one dtype.
void require_same_floating(const char* op, const Tensor& a, const Tensor& b);
/// The NumPy broadcast of two shapes, or tg::Error "op: shapes (..) and (..) cannot be broadcast".
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
/// Maps a possibly negative axis into [0, ndim), or throws "op: axis A out of range for shape S".
std::size_t normalize_axis(const char* op, int axis, std::size_t ndim, const Shape& shape);
std::size_t product(const Shape& s);

/// True when a and b have identical shapes (no allocation).
inline bool same_shape(const Tensor& a, const Tensor& b) {
  return std::visit(
      [&](const auto& x) {
        return std::visit(
            [&](const auto& y) {
              return x.shape().size() == y.shape().size() &&
                     std::equal(x.shape().begin(), x.shape().end(), y.shape().begin());
            },
            b.impl()->value);
      },
      a.impl()->value);
}

/// Calls f(xarray<T> const&) with the float32 or float64 values of t.
template <class F>
decltype(auto) visit_floating(const char* op, const Tensor& t, F&& f) {
  require_floating(op, t);
  if (const auto* v = std::get_if<xt::xarray<float>>(&value_of(t))) return f(*v);
  return f(std::get<xt::xarray<double>>(value_of(t)));
}

/// An array of shape s around a cached storage of its element count (buffer_cache.hpp).
template <class T, class S>
xt::xarray<T> cached_array(const S& s, xt::uvector<T>&& storage) {
  typename xt::xarray<T>::inner_shape_type shape(s.begin(), s.end());
  typename xt::xarray<T>::inner_strides_type strides(shape.size());
  xt::compute_strides(shape, xt::layout_type::row_major, strides);
  return xt::xarray<T>(std::move(storage), std::move(shape), std::move(strides));
}

/// A freshly allocated array of shape s (bytes in all), for empty_array.
template <class T, class S>
xt::xarray<T> fresh_array(const S& s, std::size_t bytes, const char* op) {
  using shape_type = typename xt::xarray<T>::shape_type;
  // Constructed as a returned prvalue, so no move of the array (a named array returned from
  // inside the try block would be moved: a few percent of a small op).
  xt::xarray<T> a = [&]() -> xt::xarray<T> {
    try {
      return xt::xarray<T>(shape_type(s.begin(), s.end()));
    } catch (const std::bad_alloc&) {  // also std::bad_array_new_length
      fail_alloc(op, bytes, Shape(s.begin(), s.end()));
    }
  }();
  if (bytes >= kHugePageAdviceBytes) advise_huge_pages(a.data(), bytes);
  return a;
}

/// An uninitialised array of shape s: from kCachedBlockBytes on a buffer of the same size that
/// an earlier array of this function freed, if the thread's cache has one (buffer_cache.hpp);
/// from 4 MiB on a fresh buffer is advised onto huge pages (tapegrad/memory.hpp). A shape too large to allocate, or an
/// allocation that fails, raises tg::Error naming op and s (checked.hpp); xtensor itself would
/// wrap the element count around and allocate a short buffer.
template <class T, class S>
xt::xarray<T> empty_array(const S& s, const char* op = "tensor") {
  const std::size_t count = checked_numel(op, s, sizeof(T));
  const std::size_t bytes = count * sizeof(T);
  if (bytes >= kCachedBlockBytes) {
    xt::uvector<T> storage;
    xt::xarray<T> a =
        take_cached_storage(count, storage) ? cached_array<T>(s, std::move(storage)) : fresh_array<T>(s, bytes, op);
    note_handed_out(a.data());
    return a;
  }
  return fresh_array<T>(s, bytes, op);
}

/// A copy of a with each element converted to R (static_cast, as xt::cast), allocated by
/// empty_array: a copy made by copying the xarray would come from malloc and, freed, could not
/// return to the buffer cache.
template <class R, class T>
xt::xarray<R> converted_copy(const xt::xarray<T>& a, const char* op) {
  auto r = empty_array<R>(a.shape(), op);
  const std::size_t n = a.size();
  if constexpr (std::is_same_v<R, T>) {
    if (n > 0) std::memcpy(r.data(), a.data(), n * sizeof(T));
  } else {
    const T* in = a.data();
    R* out = r.data();
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<R>(in[i]);
  }
  return r;
}

/// Zeros of shape s, checked as empty_array.
template <class T, class S>
xt::xarray<T> zeros_array(const S& s, const char* op = "tensor") {
  auto a = empty_array<T>(s, op);
  std::fill(a.begin(), a.end(), T(0));
  return a;
}

/// Elementwise r[i] = f(x[i]).
template <class T, class F>
xt::xarray<T> map(const xt::xarray<T>& x, F f) {
  auto r = empty_array<T>(x.shape());
  const T* in = x.data();
  T* out = r.data();
  const std::size_t n = x.size();
  for (std::size_t i = 0; i < n; ++i) out[i] = f(in[i]);
  return r;
}

/// When `small` (after dropping its leading 1s) equals the trailing axes of `big`, the number of
/// elements of small (> 0); else 0. Then big is `small` repeated along its leading axes.
template <class S1, class S2>
std::size_t suffix_extent(const S1& big, const S2& small) {
  std::size_t first = 0;
  while (first < small.size() && small[first] == 1) ++first;
  const std::size_t rank = small.size() - first;
  if (rank == 0 || rank > big.size()) return 0;
  std::size_t n = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    if (small[first + i] != big[big.size() - rank + i]) return 0;
    n *= small[first + i];
  }
  return n;
}

/// When `small` equals the leading axes of `big` followed only by 1s (same rank), the number of
/// elements of small (> 0); else 0. Then each element of small covers a contiguous run of big.
template <class S1, class S2>
std::size_t prefix_extent(const S1& big, const S2& small) {
  if (small.size() != big.size()) return 0;
  std::size_t last = small.size();
  while (last > 0 && small[last - 1] == 1) --last;
  if (last == 0) return 0;
  std::size_t n = 1;
  for (std::size_t i = 0; i < last; ++i) {
    if (small[i] != big[i]) return 0;
    n *= small[i];
  }
  return n;
}

/// Elementwise r = f(a, b) with NumPy broadcasting (shapes already checked); R is the result type.
template <class R, class A, class B, class F>
xt::xarray<R> zip(const xt::xarray<A>& a, const xt::xarray<B>& b, F f) {
  if (a.shape() == b.shape()) {
    auto r = empty_array<R>(a.shape());
    const std::size_t n = a.size();
    for (std::size_t i = 0; i < n; ++i) r.data()[i] = f(a.data()[i], b.data()[i]);
    return r;
  }
  if (b.size() == 1 && b.dimension() <= a.dimension()) {
    const B s = b.data()[0];
    auto r = empty_array<R>(a.shape());
    for (std::size_t i = 0; i < a.size(); ++i) r.data()[i] = f(a.data()[i], s);
    return r;
  }
  if (a.size() == 1 && a.dimension() <= b.dimension()) {
    const A s = a.data()[0];
    auto r = empty_array<R>(b.shape());
    for (std::size_t i = 0; i < b.size(); ++i) r.data()[i] = f(s, b.data()[i]);
    return r;
  }
  // The common broadcasts in training get plain loops: a row vector against a matrix (bias
  // add), a column against a matrix (keepdim reductions), either way round.
  if (b.dimension() <= a.dimension()) {
    if (const std::size_t inner = suffix_extent(a.shape(), b.shape()); inner) {
      auto r = empty_array<R>(a.shape());
      for (std::size_t i = 0; i < a.size(); i += inner)
        for (std::size_t j = 0; j < inner; ++j) r.data()[i + j] = f(a.data()[i + j], b.data()[j]);
      return r;
    }
    if (const std::size_t outer = prefix_extent(a.shape(), b.shape()); outer) {
      auto r = empty_array<R>(a.shape());
      const std::size_t inner = a.size() / outer;
      for (std::size_t i = 0; i < outer; ++i)
        for (std::size_t j = 0; j < inner; ++j) r.data()[i * inner + j] = f(a.data()[i * inner + j], b.data()[i]);
      return r;
    }
  }
  if (a.dimension() <= b.dimension()) {
    if (const std::size_t inner = suffix_extent(b.shape(), a.shape()); inner) {
      auto r = empty_array<R>(b.shape());
      for (std::size_t i = 0; i < b.size(); i += inner)
        for (std::size_t j = 0; j < inner; ++j) r.data()[i + j] = f(a.data()[j], b.data()[i + j]);
      return r;
    }
    if (const std::size_t outer = prefix_extent(b.shape(), a.shape()); outer) {
      auto r = empty_array<R>(b.shape());
      const std::size_t inner = b.size() / outer;
      for (std::size_t i = 0; i < outer; ++i)
        for (std::size_t j = 0; j < inner; ++j) r.data()[i * inner + j] = f(a.data()[i], b.data()[i * inner + j]);
      return r;
    }
  }
  // Any other broadcast (e.g. a middle axis reduced with keepdim): loops over the collapsed axes
  // (strided.hpp). Sized and checked first: a broadcast result can be far larger than a or b.
  const Shape sa = shape_of(a), sb = shape_of(b);
  const Shape out = broadcast_shapes("broadcast", sa, sb);
  auto r = empty_array<R>(out, "broadcast");
  if (r.size() > 0) broadcast_apply(a.data(), sa, b.data(), sb, out, r.data(), f);
  return r;
}

template <class T>
Tensor make_tensor(xt::xarray<T>&& v) {
  return Tensor(std::move(v));
}

/// A tensor of t's dtype and shape filled with value.
Tensor full_as(const Tensor& t, double value);
/// A scalar (0-d) tensor of dtype d.
Tensor scalar_tensor(double value, DType d);

}  // namespace tg::detail
