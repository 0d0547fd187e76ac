// tg::Tensor: an N-d array (an xt::xarray) plus what autograd needs to know about it.
//
// Invariants
// - A Tensor is a handle: copying it shares the same value, gradient and graph position (as in
//   libtorch). `detach()` and `clone()` make new tensors; `detach()` copies the values (a tensor
//   owns one xt::xarray, so there is no storage to share), which differs from libtorch.
// - A tensor either is a leaf (made by a factory, or by an op that was not recorded) or has a
//   producer node on the tape of the thread that recorded it. Only leaves keep a `grad()`.
// - dtype is float32 (the default), float64, int64 (indices, class targets) or bool (masks).
//   Only floating tensors can require grad. Ops never mix float32 and float64 silently.
// - Values are always row-major and contiguous.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <xtensor/xarray.hpp>

#include "tapegrad/error.hpp"

namespace tg {

/// Element type of a tensor.
enum class DType : std::uint8_t { float32, float64, int64, boolean };

inline constexpr DType kFloat32 = DType::float32;
inline constexpr DType kFloat64 = DType::float64;
inline constexpr DType kInt64 = DType::int64;
inline constexpr DType kBool = DType::boolean;

/// "float32", "float64", "int64" or "bool".
const char* to_string(DType dtype);
/// Size of one element in bytes.
std::size_t element_size(DType dtype);
inline bool is_floating(DType d) { return d == DType::float32 || d == DType::float64; }

/// The C++ element type of a DType, and back.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::float64; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::int64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };

/// The dtype factories use when none is given (float32 unless changed; per process).
DType default_dtype();
/// Changes the default floating dtype (float32 or float64), like torch.set_default_dtype.
void set_default_dtype(DType dtype);

/// Options for factories: dtype (default: default_dtype()) and requires_grad (default false).
struct TensorOptions {
  DType dtype_ = default_dtype();
  bool requires_grad_ = false;
  TensorOptions() = default;
  TensorOptions(DType d) : dtype_(d) {}  // NOLINT: implicit, so zeros(s, kFloat64) reads well
  TensorOptions& dtype(DType d) { dtype_ = d; return *this; }
  TensorOptions& requires_grad(bool on = true) { requires_grad_ = on; return *this; }
};

class Tensor;
struct Node;
namespace detail {
struct TensorImpl;
using Value = std::variant<xt::xarray<float>, xt::xarray<double>, xt::xarray<std::int64_t>,
                           xt::xarray<bool>>;
template <class T> inline constexpr bool is_element_v =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, bool>;
}  // namespace detail

/// A handle to an N-d array that may take part in automatic differentiation.
class Tensor {
 public:
  /// An undefined tensor (like a null handle): `defined()` is false.
  Tensor() = default;
  /// Takes an xtensor array (moved, not copied, when passed an rvalue).
  Tensor(xt::xarray<float> value, bool requires_grad = false);
  Tensor(xt::xarray<double> value, bool requires_grad = false);
  Tensor(xt::xarray<std::int64_t> value);
  Tensor(xt::xarray<bool> value);
  /// Evaluates any xtensor expression (e.g. `xt::ones<double>({2, 3}) * 2.0`).
  template <class E, class T = typename E::value_type,
            class = std::enable_if_t<detail::is_element_v<T> &&
                                     !std::is_same_v<std::decay_t<E>, xt::xarray<T>>>>
  Tensor(const xt::xexpression<E>& expression) : Tensor(xt::xarray<T>(expression)) {}

  bool defined() const { return impl_ != nullptr; }
  DType dtype() const;
  Shape shape() const;
  /// Extent of one axis; negative axes count from the end.
  std::size_t size(int axis) const;
  std::size_t dim() const;
  std::size_t numel() const;
  bool is_floating_point() const { return is_floating(dtype()); }

  /// The single value of a one-element tensor, converted to double.
  double item() const;
  template <class T> T item() const { return static_cast<T>(item()); }

  /// The values as an xtensor array; T must be the tensor's element type.
  template <class T> const xt::xarray<T>& value() const;
  /// Writable values, for in-place updates of leaves (optimizers, initialisers). Bypasses autograd:
  /// never modify a tensor that a recorded op saved for backward.
  template <class T> xt::xarray<T>& mutable_value();
  /// The values converted to double (any dtype).
  xt::xarray<double> to_double() const;

  bool requires_grad() const;
  /// Makes a leaf track gradients (or stop). Throws for non-leaves and non-floating dtypes.
  Tensor& requires_grad_(bool on = true);
  /// True for tensors not produced by a recorded op.
  bool is_leaf() const;
  /// Gradient accumulated by backward() into this leaf, or an undefined tensor.
  Tensor grad() const;
  /// Replaces the accumulated gradient (shape and dtype must match; undefined clears it).
  void set_grad(const Tensor& grad);
  /// Clears the gradient: undefined (set_to_none) or zero-filled in place.
  void zero_grad(bool set_to_none = true);
  /// A new leaf with a copy of the values and no history.
  Tensor detach() const;
  /// A copy of the values that stays in the graph (gradient flows back to this tensor).
  Tensor clone() const;
  /// Converts to another dtype; differentiable between float32 and float64. To int64, values are
  /// truncated toward zero, and NaN, infinite or out-of-range values raise tg::Error.
  Tensor to(DType dtype) const;

  /// Reverse-mode sweep from this tensor. A non-scalar tensor needs `grad` (same shape).
  /// retain_graph keeps the graph for another backward; create_graph records the derivative
  /// computation so it can be differentiated again (and implies retain_graph).
  void backward(const Tensor& grad = {}, bool retain_graph = false,
                bool create_graph = false) const;

  /// Name used in graph exports and messages (parameters get their dotted names).
  const std::string& name() const;
  Tensor& set_name(std::string name);
  /// Name of the op that produced this tensor ("" for leaves).
  std::string grad_fn_name() const;

  // Member spellings of common ops, as in libtorch.
  Tensor sum() const;
  Tensor sum(std::vector<int> axes, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(std::vector<int> axes, bool keepdim = false) const;
  Tensor reshape(std::vector<std::int64_t> shape) const;
  Tensor view(std::vector<std::int64_t> shape) const { return reshape(std::move(shape)); }
  Tensor t() const;
  Tensor transpose(int axis0, int axis1) const;
  Tensor matmul(const Tensor& other) const;
  Tensor pow(double exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor abs() const;
  Tensor sqrt() const;
  Tensor squeeze() const;
  Tensor unsqueeze(int axis) const;
  Tensor flatten() const;

  /// Identity of the underlying tensor (two handles to the same tensor).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  detail::TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<detail::TensorImpl>& impl_ptr() const { return impl_; }
  explicit Tensor(std::shared_ptr<detail::TensorImpl> impl) : impl_(std::move(impl)) {}

 private:
  const detail::TensorImpl& checked() const;
  std::shared_ptr<detail::TensorImpl> impl_;
};

namespace detail {
struct TensorImpl {
  Value value;
  Tensor grad;                // accumulated gradient (leaves)
  Node* node = nullptr;       // producer on a tape; the node owns this impl, so it outlives it
  Tensor* capture = nullptr;  // set by tg::grad() during a sweep: where this leaf's gradient goes
  bool requires_grad = false;
  std::string name;
  explicit TensorImpl(Value v) : value(std::move(v)) {}
  /// Moves the array straight into the variant: an xarray move swaps its shape and strides
  /// element by element, a noticeable cost for small tensors, so it is done once, not twice.
  template <class T>
  explicit TensorImpl(xt::xarray<T>&& a) : value(std::in_place_type<xt::xarray<T>>, std::move(a)) {}
};
}  // namespace detail

template <class T>
const xt::xarray<T>& Tensor::value() const {
  const auto* v = std::get_if<xt::xarray<T>>(&checked().value);
  if (!v) fail("value<", to_string(dtype_of<T>::value), ">: tensor has dtype ", to_string(dtype()));
  return *v;
}

template <class T>
xt::xarray<T>& Tensor::mutable_value() {
  return const_cast<xt::xarray<T>&>(value<T>());
}

/// Prints dtype, shape and values (and grad_fn / requires_grad), e.g. for debugging.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- Factories ---------------------------------------------------------------------------------

/// From an xtensor array of doubles, converted to options.dtype (to int64 as Tensor::to does).
Tensor from_double(const xt::xarray<double>& values, TensorOptions options = {});

/// A number or a braced list of NestedLists: what tensor() accepts. Because braces prefer the
/// initializer-list constructor, {{0}, {1}} is a (2,1) tensor, not an ambiguity (as in libtorch).
class NestedList {
 public:
  NestedList(double value) : value_(value) {}  // NOLINT: implicit, so 1, 2.5 and true all work
  NestedList(std::initializer_list<NestedList> items) : items_(items), is_list_(true) {}
  /// The shape and row-major values; tg::Error for ragged lists ("tensor: ragged nested list").
  void flatten(Shape& shape, std::vector<double>& values) const;

 private:
  double value_ = 0;
  std::vector<NestedList> items_;
  bool is_list_ = false;
};

/// From a number or nested lists: tensor({{1, 2}, {3, 4}}, kFloat64), tensor({{0}, {1}}),
/// tensor(3.5) (0-d). Every level must be rectangular.
Tensor tensor(const NestedList& values, TensorOptions options = {});
/// A 1-D tensor from a flat list of numbers (also an std::initializer_list<T> variable).
/// (A template, so a braced {{0}, {1}} cannot match it and still goes to NestedList.)
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
Tensor tensor(std::initializer_list<T> values, TensorOptions options = {}) {
  xt::xarray<double> v = xt::xarray<double>::from_shape({values.size()});
  std::size_t i = 0;
  for (T e : values) v.data()[i++] = static_cast<double>(e);
  return from_double(v, options);
}

Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
/// [start, stop) in steps of step (as numpy.arange).
Tensor arange(double start, double stop, double step = 1.0, TensorOptions options = {});
/// count evenly spaced values from start to stop inclusive.
Tensor linspace(double start, double stop, std::size_t count, TensorOptions options = {});
/// n x m identity (m = n when 0).
Tensor eye(std::size_t n, std::size_t m = 0, TensorOptions options = {});

}  // namespace tg
