/// \file
/// tg::Tensor: an N-d array plus what autograd needs to know about it.
///
/// This header is light on purpose: it does not include xtensor, and the engine's structures
/// (TensorImpl, nodes, the sweep) live in the library's private headers. Code that wants the
/// values as xtensor arrays (`value<T>()`, `mutable_value<T>()`, `to_double()`, constructing a
/// tensor from an xt::xarray) includes "tapegrad/xtensor.hpp".
///
/// Invariants
/// - A Tensor is a handle: copying it shares the same value, gradient and graph position (as in
///   libtorch). Handles count references on their impl (atomically: handles may be copied and
///   dropped on any thread).
/// - Every op returns a new tensor. No op returns its input object or shares its values: shape
///   ops (reshape, view, squeeze, expand, transpose, slice, ...) copy, and `detach()` copies too.
///   A tensor owns one contiguous row-major array, so there is no storage to share (this differs
///   from libtorch, whose views alias).
/// - A tensor either is a leaf (made by a factory, or by an op that was not recorded) or has a
///   producer node, its grad_fn. The tensor owns a reference to its grad_fn; a node owns its
///   inputs' producers. So a graph lives exactly as long as some tensor can reach it, on whatever
///   thread; nothing scans for dead nodes. Only leaves keep a `grad()`.
/// - Every tensor has a version, bumped by every in-place write (`mutable_value`, optimizer
///   steps, load_state_dict, initialisers). A node records the version of each tensor its backward
///   reads, and raises tg::Error if the tensor was written since (as PyTorch's saved variables).
/// - dtype is float32 (the default), float64, int64 (indices, class targets) or bool (masks).
///   Only floating tensors can require grad. Ops never mix float32 and float64 silently.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/error.hpp"

namespace tg {

/// Element type of a tensor.
enum class DType : std::uint8_t { float32, float64, int64, boolean };

inline constexpr DType kFloat32 = DType::float32;  ///< 32-bit float, the default dtype.
inline constexpr DType kFloat64 = DType::float64;  ///< 64-bit float.
inline constexpr DType kInt64 = DType::int64;      ///< 64-bit signed integer (indices, class targets).
inline constexpr DType kBool = DType::boolean;     ///< Boolean (masks, comparison results).

/// "float32", "float64", "int64" or "bool".
const char* to_string(DType dtype);
/// Size of one element in bytes.
std::size_t element_size(DType dtype);
/// True for float32 and float64: the dtypes that can require grad.
inline bool is_floating(DType d) { return d == DType::float32 || d == DType::float64; }

/// The C++ element type of a DType, and back.
template <class T> struct dtype_of;
/// \cond SPECIALISATIONS
template <> struct dtype_of<float> { static constexpr DType value = DType::float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::float64; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::int64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
/// \endcond

/// The dtype factories use when none is given (float32 unless changed; per process).
DType default_dtype();
/// Changes the default floating dtype (float32 or float64), like torch.set_default_dtype.
void set_default_dtype(DType dtype);

/// Options for factories: dtype (default: default_dtype()) and requires_grad (default false).
struct TensorOptions {
  DType dtype_ = default_dtype();  ///< Element type; default default_dtype().
  bool requires_grad_ = false;     ///< Whether the new leaf tracks gradients (floating only); default false.
  /// Default dtype, no gradient.
  TensorOptions() = default;
  /// Implicit, so that zeros(shape, kFloat64) reads well.
  TensorOptions(DType d) : dtype_(d) {}  // NOLINT: implicit, so zeros(s, kFloat64) reads well
  /// Sets the dtype (chainable).
  TensorOptions& dtype(DType d) { dtype_ = d; return *this; }
  /// Sets requires_grad (chainable).
  TensorOptions& requires_grad(bool on = true) { requires_grad_ = on; return *this; }
};

class Tensor;
struct Index;
struct Node;
class HookHandle;
namespace detail {
struct TensorImpl;  // the engine's side of a tensor (private header)
struct HookList;

/// The part of a tensor's impl that inline code may read: its handle count, version, dtype and
/// where its array is. The rest of the impl (gradient, grad_fn, hooks) is private to the engine.
/// `array` points at the impl's own xt::xarray<T> of `dtype`; the engine keeps both in step.
/// The two counters are only ever accessed atomically, through the functions below. They use
/// the GCC/Clang __atomic builtins (what std::atomic compiles to) so that this header, which
/// every user file includes, does not pay for <atomic>.
struct TensorHead {
  long handles = 1;
  std::uint32_t version = 0;
  DType dtype = DType::float32;
  void* array = nullptr;
};
inline long handle_count(const TensorHead* head, int order = __ATOMIC_RELAXED) noexcept {
  return __atomic_load_n(&head->handles, order);
}
/// Adds a handle; returns the count before.
inline long add_handle(TensorHead* head, int order = __ATOMIC_RELAXED) noexcept {
  return __atomic_fetch_add(&head->handles, 1, order);
}
inline std::uint32_t version_of(const TensorHead* head) noexcept {
  return __atomic_load_n(&head->version, __ATOMIC_RELAXED);
}
inline void retain(TensorHead* head) noexcept { add_handle(head); }
/// Frees the impl (or hands it to the node that saved it) when the last handle goes.
void last_handle_gone(TensorHead* head) noexcept;
inline void release(TensorHead* head) noexcept {
  if (__atomic_fetch_sub(&head->handles, 1, __ATOMIC_ACQ_REL) == 1) last_handle_gone(head);
}
[[noreturn]] void fail_undefined();
[[noreturn]] void fail_value_dtype(DType wanted, DType actual);

/// xt::xarray<T>: declared here, defined by tapegrad/xtensor.hpp. A use of value<T>() without
/// that header fails to compile with "incomplete type tg::detail::XArray<T>".
template <class T> struct XArray;
/// Converts an xtensor expression E to a tensor: empty here (so the constructor below takes
/// part in overload resolution only for xtensor types), specialised by tapegrad/xtensor.hpp.
template <class E, class = void> struct FromXtensor {};
}  // namespace detail

/// A handle to an N-d array that may take part in automatic differentiation.
class Tensor {
 public:
  /// An undefined tensor (like a null handle): `defined()` is false.
  Tensor() noexcept : impl_(nullptr) {}
  /// Copies are handles to the same tensor (values, gradient and graph position are shared).
  ///@{
  Tensor(const Tensor& other) noexcept : impl_(other.impl_) {
    if (impl_) detail::retain(impl_);
  }
  Tensor(Tensor&& other) noexcept : impl_(other.impl_) { other.impl_ = nullptr; }
  Tensor& operator=(const Tensor& other) noexcept {
    Tensor(other).swap(*this);
    return *this;
  }
  Tensor& operator=(Tensor&& other) noexcept {
    Tensor(std::move(other)).swap(*this);
    return *this;
  }
  ~Tensor() {
    if (impl_) detail::release(impl_);
  }
  ///@}
  /// Exchanges the two handles.
  void swap(Tensor& other) noexcept {
    detail::TensorHead* t = impl_;
    impl_ = other.impl_;
    other.impl_ = t;
  }
  /// From an xt::xarray of float, double, int64_t or bool (moved, not copied, when passed an
  /// rvalue) or any xtensor expression (e.g. `xt::ones<double>({2, 3}) * 2.0`, evaluated).
  /// requires_grad needs a floating dtype. Needs "tapegrad/xtensor.hpp".
  template <class E, class Make = detail::FromXtensor<std::decay_t<E>>, class = typename Make::type>
  Tensor(E&& values, bool requires_grad = false)  // NOLINT: implicit, as the xarray it holds
      : Tensor(Make::make(std::forward<E>(values), requires_grad)) {}

  /// False for a default-constructed (null) handle; every other member needs a defined tensor.
  bool defined() const { return impl_ != nullptr; }
  /// Element type.
  DType dtype() const { return head().dtype; }
  /// Extents of all axes (empty for a 0-d tensor).
  Shape shape() const;
  /// Extent of one axis; negative axes count from the end.
  std::size_t size(int axis) const;
  /// Number of axes.
  std::size_t dim() const;
  /// Number of elements (the product of the extents; 1 for 0-d).
  std::size_t numel() const;
  /// True for float32 and float64.
  bool is_floating_point() const { return is_floating(dtype()); }

  /// The single value of a one-element tensor, converted to double (tg::Error otherwise).
  double item() const;
  /// The single value converted to T.
  template <class T> T item() const { return static_cast<T>(item()); }

  /// The values as an xt::xarray<T>; T must be the tensor's element type. Needs
  /// "tapegrad/xtensor.hpp".
  template <class T> const typename detail::XArray<T>::type& value() const;
  /// Writable values, for in-place updates (optimizers, initialisers). Bumps the version, so a
  /// backward that saved this tensor before the write raises tg::Error instead of using the new
  /// values. Call it again for a later write: each call counts as one in-place write. Needs
  /// "tapegrad/xtensor.hpp".
  template <class T> typename detail::XArray<T>::type& mutable_value();
  /// The first of numel() contiguous row-major values; T must be the element type. A write
  /// through it is an in-place write: call bump_version() (as mutable_value does).
  /// (Defined for float, double, std::int64_t and bool.)
  ///@{
  template <class T> const T* data_ptr() const;
  template <class T> T* data_ptr();
  ///@}
  /// Number of in-place writes so far (torch's `_version`).
  std::uint32_t version() const;
  /// Records an in-place write made through a reference obtained earlier.
  void bump_version();
  /// The values converted to double (any dtype), as an xt::xarray<double>. Needs
  /// "tapegrad/xtensor.hpp" (the template parameter only defers the type until then).
  template <class D = double> typename detail::XArray<D>::type to_double() const;
  /// The values converted to double, row-major (any dtype).
  std::vector<double> to_vector() const;

  /// Whether gradients flow to this tensor (a leaf set so, or the result of a recorded op).
  bool requires_grad() const;
  /// Makes a leaf track gradients (or stop). Throws for non-leaves and non-floating dtypes.
  Tensor& requires_grad_(bool on = true);
  /// True for tensors not produced by a recorded op.
  bool is_leaf() const;
  /// Gradient accumulated by backward() into this leaf, or an undefined tensor.
  Tensor grad() const;
  /// Replaces the accumulated gradient (shape and dtype must match; undefined clears it).
  void set_grad(const Tensor& grad);
  /// Clears the gradient: undefined (set_to_none), or zero-filled in place when nothing else
  /// holds it (else replaced by fresh zeros, so a handle taken earlier keeps its values).
  void zero_grad(bool set_to_none = true);
  /// A new leaf with a copy of the values and no history.
  Tensor detach() const;
  /// A copy of the values that stays in the graph (gradient flows back to this tensor).
  Tensor clone() const;
  /// Converts to another dtype; differentiable between float32 and float64. To int64, values are
  /// truncated toward zero, and NaN, infinite or out-of-range values raise tg::Error.
  Tensor to(DType dtype) const;

  /// Reverse-mode sweep from this tensor. A non-scalar tensor needs `grad` (same shape).
  /// retain_graph keeps the graph for another backward (default: create_graph, as PyTorch);
  /// create_graph records the derivative computation so it can be differentiated again.
  void backward(const Tensor& grad = {}, std::optional<bool> retain_graph = std::nullopt,
                bool create_graph = false) const;

  /// Calls hook(gradient) whenever the gradient with respect to this tensor is computed (by
  /// backward or grad), before it is used or accumulated; a defined result replaces it. Hooks
  /// run in registration order. The handle removes the hook.
  HookHandle register_hook(Callback<Tensor(const Tensor&)> hook) const;
  /// For a leaf: calls hook(*this) after backward() has accumulated this backward's gradient
  /// into grad() (once per backward, when every contribution is in). Data-parallel training
  /// starts communicating a gradient here while the rest of backward runs.
  HookHandle register_post_accumulate_grad_hook(Callback<void(const Tensor&)> hook) const;

  /// Name used in graph exports and messages (parameters get their dotted names).
  const std::string& name() const;
  /// Sets name() (chainable).
  Tensor& set_name(std::string name);
  /// Name of the op that produced this tensor ("" for leaves).
  std::string grad_fn_name() const;

  /// Member spellings of common ops, as in libtorch: each is the free function of the same name
  /// (tg::sum, tg::reshape, ...) applied to *this.
  /// view() is reshape() (a copy: tapegrad has no aliasing views); t() transposes a 2-D tensor.
  ///@{
  Tensor sum() const;
  Tensor sum(std::vector<int> axes, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(std::vector<int> axes, bool keepdim = false) const;
  template <class I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  Tensor sum(I axis, bool keepdim = false) const {
    return sum(std::vector<int>{static_cast<int>(axis)}, keepdim);
  }
  template <class I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  Tensor mean(I axis, bool keepdim = false) const {
    return mean(std::vector<int>{static_cast<int>(axis)}, keepdim);
  }
  Tensor argmax(int axis, bool keepdim = false) const;
  Tensor clamp(std::optional<double> min, std::optional<double> max = std::nullopt) const;
  Tensor clamp_min(double min) const;
  Tensor clamp_max(double max) const;
  /// x.index({0, Slice(1, 3)}) is getitem(x, {0, Slice(1, 3)}) (tapegrad/ops/shape.hpp), and x[i]
  /// is select(x, 0, i): copies, differentiable (tapegrad has no aliasing views, so writing to
  /// the result does not change x).
  Tensor index(const std::vector<Index>& indices) const;
  Tensor operator[](std::int64_t i) const;
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
  ///@}

  /// In-place ops, as libtorch's add_, sub_, mul_, div_, clamp_, zero_, fill_ and the compound
  /// assignments: each writes its result into this tensor's own array (pointers into it stay
  /// valid), keeping its dtype and shape (`other` broadcasts to it), and bumps its version, so a
  /// node that saved the tensor before the write raises tg::Error instead of reading the new
  /// values. Refused (tg::Error) on a leaf that requires grad while grad mode is on, as PyTorch.
  /// On a tensor that is in a graph, or when `other` requires grad, the write is recorded as in
  /// PyTorch: the tensor's grad_fn becomes the op's node, whose gradient flows to the tensor's
  /// earlier history and to `other` (and forward-mode tangents follow). Return *this.
  /// Unlike PyTorch, a node that saved the tensor as its *output* (exp, tanh, sigmoid, ...) keeps
  /// the values it saved, so its backward still works after the write. Hooks registered on the
  /// tensor before the write stay with its earlier history.
  ///@{
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& add_(double s);
  Tensor& sub_(const Tensor& other, double alpha = 1.0);
  Tensor& sub_(double s);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double s);
  Tensor& div_(const Tensor& other);
  Tensor& div_(double s);
  /// Limits to [min, max]; a missing bound is not applied (at least one must be given).
  Tensor& clamp_(std::optional<double> min, std::optional<double> max = std::nullopt);
  Tensor& clamp_min_(double min);
  Tensor& clamp_max_(double max);
  /// Every element set to 0 or value (any dtype); the gradient to the earlier history is zero.
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& operator+=(const Tensor& other) { return add_(other); }
  Tensor& operator-=(const Tensor& other) { return sub_(other); }
  Tensor& operator*=(const Tensor& other) { return mul_(other); }
  Tensor& operator/=(const Tensor& other) { return div_(other); }
  Tensor& operator+=(double s) { return add_(s); }
  Tensor& operator-=(double s) { return sub_(s); }
  Tensor& operator*=(double s) { return mul_(s); }
  Tensor& operator/=(double s) { return div_(s); }
  ///@}

  /// Identity of the underlying tensor (two handles to the same tensor).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  /// Number of handles to this tensor (for the engine's ownership decisions).
  long use_count() const { return impl_ ? detail::handle_count(impl_) : 0; }

  /// \cond INTERNAL
  // Engine internals, defined in the library's private tensor_impl.hpp.
  inline detail::TensorImpl* impl() const;
  /// Takes over a new impl (its count already 1).
  static inline Tensor adopt(detail::TensorImpl* fresh) noexcept;
  /// \endcond

 private:
  const detail::TensorHead& head() const {
    if (!impl_) detail::fail_undefined();
    return *impl_;
  }
  const detail::TensorImpl& checked() const;
  detail::TensorHead* impl_;
};

/// Removes a hook registered with register_hook or register_post_accumulate_grad_hook.
/// Removing twice, or after the tensor is gone, does nothing.
class HookHandle {
 public:
  /// A handle that removes nothing.
  HookHandle() = default;
  /// \cond INTERNAL
  HookHandle(std::weak_ptr<detail::HookList> list, std::uint64_t id) : list_(std::move(list)), id_(id) {}
  /// \endcond
  /// Removes the hook (once; later calls do nothing).
  void remove();

 private:
  std::weak_ptr<detail::HookList> list_;
  std::uint64_t id_ = 0;
};

inline std::uint32_t Tensor::version() const { return detail::version_of(&head()); }
inline void Tensor::bump_version() {
  __atomic_fetch_add(&const_cast<detail::TensorHead&>(head()).version, 1, __ATOMIC_RELAXED);
}
/// Prints dtype, shape and values (and grad_fn / requires_grad), e.g. for debugging.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- Factories ---------------------------------------------------------------------------------

/// From row-major doubles and a shape, converted to options.dtype (to int64 as Tensor::to does).
Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});

/// A number or a braced list of NestedLists: what tensor() accepts. Because braces prefer the
/// initializer-list constructor, {{0}, {1}} is a (2,1) tensor, not an ambiguity (as in libtorch).
class NestedList {
 public:
  /// A number (implicit, so 1, 2.5 and true all work).
  NestedList(double value) : value_(value) {}  // NOLINT: implicit, so 1, 2.5 and true all work
  /// A list of numbers or of lists.
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
  std::vector<double> v;
  v.reserve(values.size());
  for (T e : values) v.push_back(static_cast<double>(e));
  return from_vector(v, Shape{values.size()}, options);
}

/// A 1-D tensor from a std::vector of float, double or integers: float32, float64 or int64 as
/// the element type (as libtorch's torch::tensor(std::vector<T>)), or options' dtype when given.
///@{
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>>
Tensor tensor(const std::vector<T>& values, TensorOptions options) {
  return from_vector(std::vector<double>(values.begin(), values.end()), Shape{values.size()}, options);
}
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>>
Tensor tensor(const std::vector<T>& values) {
  constexpr DType d = std::is_floating_point_v<T> ? (sizeof(T) == 4 ? kFloat32 : kFloat64) : kInt64;
  return tensor(values, TensorOptions(d));
}
///@}

/// A tensor of `shape` filled with 0, 1 or value; dtype and requires_grad from options.
///@{
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
///@}
/// A tensor of t's shape and dtype filled with 0, 1 or value (no gradient).
///@{
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
///@}
/// [start, stop) in steps of step (as numpy.arange).
Tensor arange(double start, double stop, double step = 1.0, TensorOptions options = {});
/// count evenly spaced values from start to stop inclusive.
Tensor linspace(double start, double stop, std::size_t count, TensorOptions options = {});
/// n x m identity (m = n when 0).
Tensor eye(std::size_t n, std::size_t m = 0, TensorOptions options = {});

}  // namespace tg
