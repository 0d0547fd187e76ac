// Tensor handle, dtype helpers and factories.
#include "tapegrad/tensor.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <ostream>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xtensor.hpp>

#include "kernels.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/linalg.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tapegrad/ops/shape.hpp"

namespace tg {

namespace detail {
void append_signed(std::string& out, long long v) { out += std::to_string(v); }
void append_unsigned(std::string& out, unsigned long long v) { out += std::to_string(v); }
std::string hex(unsigned long long v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%llx", v);
  return buf;
}
void append_double(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  out += buf;
}
}  // namespace detail

std::string to_string(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + ")";
}

const char* to_string(DType dtype) {
  switch (dtype) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int64: return "int64";
    case DType::boolean: return "bool";
  }
  return "?";
}

std::size_t element_size(DType dtype) {
  switch (dtype) {
    case DType::float32: return 4;
    case DType::float64: return 8;
    case DType::int64: return 8;
    case DType::boolean: return 1;
  }
  return 0;
}

namespace {
std::atomic<DType> g_default_dtype{DType::float32};
}

DType default_dtype() { return g_default_dtype.load(std::memory_order_relaxed); }
void set_default_dtype(DType dtype) {
  if (!is_floating(dtype)) fail("set_default_dtype: expected float32 or float64, got ", to_string(dtype));
  g_default_dtype.store(dtype, std::memory_order_relaxed);
}

// ---- Tensor --------------------------------------------------------------------------------------

namespace {
template <class T>
std::int64_t int64_of(T v, std::size_t index, const char* op) {
  if constexpr (std::is_floating_point_v<T>) {
    // C++ leaves the conversion of NaN, infinities and out-of-range values undefined.
    if (!(v >= -0x1p63 && v < 0x1p63))
      fail(op, ": value ", v, " at index ", index, " cannot be converted to int64");
  }
  return static_cast<std::int64_t>(v);
}

/// a converted to int64; a NaN, infinite or out-of-range float raises tg::Error naming op.
template <class T>
xt::xarray<std::int64_t> to_int64(const xt::xarray<T>& a, const char* op) {
  auto out = detail::empty_array<std::int64_t>(a.shape(), op);
  for (std::size_t i = 0; i < a.size(); ++i) out.data()[i] = int64_of(a.data()[i], i, op);
  return out;
}

template <class T>
Tensor make(xt::xarray<T>&& v, bool requires_grad) {
  Tensor t = Tensor::adopt(new detail::TensorImpl(std::move(v)));
  if (requires_grad) t.requires_grad_(true);
  return t;
}
}  // namespace

namespace detail {
Tensor make_tensor(xt::xarray<float>&& v, bool requires_grad) { return make(std::move(v), requires_grad); }
Tensor make_tensor(xt::xarray<double>&& v, bool requires_grad) { return make(std::move(v), requires_grad); }
Tensor make_tensor(xt::xarray<std::int64_t>&& v, bool requires_grad) { return make(std::move(v), requires_grad); }
Tensor make_tensor(xt::xarray<bool>&& v, bool requires_grad) { return make(std::move(v), requires_grad); }

void fail_undefined() { fail("tensor: use of an undefined tensor"); }
void fail_value_dtype(DType wanted, DType actual) {
  fail("value<", to_string(wanted), ">: tensor has dtype ", to_string(actual));
}

xt::xarray<double> to_double_array(const Tensor& t) {
  return std::visit([](const auto& a) { return xt::xarray<double>(xt::cast<double>(a)); },
                    value_of(t));
}
}  // namespace detail

const detail::TensorImpl& Tensor::checked() const {
  if (!impl_) detail::fail_undefined();
  return *impl();
}

template <class T>
const T* Tensor::data_ptr() const {
  const DType d = head().dtype;
  if (d != dtype_of<T>::value)
    fail("data_ptr<", to_string(dtype_of<T>::value), ">: tensor has dtype ", to_string(d));
  return value<T>().data();
}
template <class T>
T* Tensor::data_ptr() {
  return const_cast<T*>(static_cast<const Tensor&>(*this).data_ptr<T>());
}
template const float* Tensor::data_ptr<float>() const;
template const double* Tensor::data_ptr<double>() const;
template const std::int64_t* Tensor::data_ptr<std::int64_t>() const;
template const bool* Tensor::data_ptr<bool>() const;
template float* Tensor::data_ptr<float>();
template double* Tensor::data_ptr<double>();
template std::int64_t* Tensor::data_ptr<std::int64_t>();
template bool* Tensor::data_ptr<bool>();

Shape Tensor::shape() const {
  return std::visit([](const auto& a) { return detail::shape_of(a); }, checked().value);
}

std::size_t Tensor::dim() const {
  return std::visit([](const auto& a) { return a.dimension(); }, checked().value);
}

std::size_t Tensor::numel() const {
  return std::visit([](const auto& a) { return a.size(); }, checked().value);
}

std::size_t Tensor::size(int axis) const {
  const Shape s = shape();
  return s[detail::normalize_axis("size", axis, s.size(), s)];
}

double Tensor::item() const {
  if (numel() != 1)
    fail("item: tensor of shape ", tg::to_string(shape()), " has ", numel(),
         " elements; item() needs exactly one");
  return std::visit([](const auto& a) { return static_cast<double>(a.data()[0]); }, checked().value);
}

std::vector<double> Tensor::to_vector() const {
  return std::visit([](const auto& a) { return std::vector<double>(a.begin(), a.end()); },
                    checked().value);
}

bool Tensor::requires_grad() const { return impl_ && impl()->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  auto& impl = const_cast<detail::TensorImpl&>(checked());
  if (impl.grad_fn) fail("requires_grad_: only leaves can change requires_grad (this is the output of '",
                      grad_fn_name(), "'); use detach() for a leaf copy");
  if (on && !is_floating(dtype()))
    fail("requires_grad_: only float32/float64 tensors can require grad, not ", to_string(dtype()));
  impl.requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return checked().grad_fn == nullptr; }

Tensor Tensor::grad() const { return checked().grad; }

void Tensor::set_grad(const Tensor& grad) {
  auto& impl = const_cast<detail::TensorImpl&>(checked());
  if (grad.defined() && (grad.dtype() != dtype() || grad.shape() != shape()))
    fail("set_grad: gradient ", to_string(grad.dtype()), tg::to_string(grad.shape()),
         " does not match tensor ", to_string(dtype()), tg::to_string(shape()));
  impl.grad = grad;
}

void Tensor::zero_grad(bool set_to_none) {
  auto& impl = const_cast<detail::TensorImpl&>(checked());
  if (set_to_none || !impl.grad.defined()) {
    impl.grad = Tensor();
  } else if (impl.grad.use_count() == 1 && impl.grad.is_leaf()) {
    std::visit([](auto& a) { std::fill(a.begin(), a.end(), 0); }, impl.grad.impl()->value);
    impl.grad.bump_version();
  } else {
    // Someone else holds this gradient (or it is in a graph): give the leaf fresh zeros.
    impl.grad = zeros_like(impl.grad);
  }
}

Tensor Tensor::detach() const {
  return std::visit(
      [](const auto& a) {
        using T = typename std::decay_t<decltype(a)>::value_type;
        return Tensor::adopt(new detail::TensorImpl(detail::converted_copy<T>(a, "detach")));
      },
      checked().value);
}

Tensor Tensor::clone() const {
  return to(dtype());
}

Tensor Tensor::to(DType target) const {
  const DType from = dtype();
  auto convert = [&](const auto& a) -> Tensor {
    switch (target) {
      case DType::float32:
        return Tensor(detail::converted_copy<float>(a, "to"));
      case DType::float64:
        return Tensor(detail::converted_copy<double>(a, "to"));
      case DType::int64:
        return Tensor(to_int64(a, "to"));
      case DType::boolean:
        return Tensor(detail::converted_copy<bool>(a, "to"));
    }
    return Tensor();
  };
  Tensor out = std::visit(convert, checked().value);
  if (!is_floating(from) || !is_floating(target)) return out;
  return record(
      "to", std::move(out), {*this}, kSaveNone, [from](BackwardContext& c) { c.set_grad(0, c.grad().to(from)); },
      [target](const JvpContext& c) { return c.tangent(0).to(target); });
}

void Tensor::backward(const Tensor& grad, std::optional<bool> retain_graph, bool create_graph) const {
  std::vector<Tensor> grads;
  if (grad.defined()) grads.push_back(grad);
  tg::backward({*this}, grads, retain_graph, create_graph);
}

const std::string& Tensor::name() const { return checked().name; }
Tensor& Tensor::set_name(std::string name) {
  const_cast<detail::TensorImpl&>(checked()).name = std::move(name);
  return *this;
}
std::string Tensor::grad_fn_name() const {
  const auto& impl = checked();
  return impl.grad_fn ? impl.grad_fn->name : "";
}

Tensor Tensor::sum() const { return tg::sum(*this); }
Tensor Tensor::sum(std::vector<int> axes, bool keepdim) const { return tg::sum(*this, axes, keepdim); }
Tensor Tensor::mean() const { return tg::mean(*this); }
Tensor Tensor::mean(std::vector<int> axes, bool keepdim) const { return tg::mean(*this, axes, keepdim); }
Tensor Tensor::reshape(std::vector<std::int64_t> shape) const { return tg::reshape(*this, shape); }
Tensor Tensor::t() const {
  if (dim() != 2) fail("t: expects a 2-D tensor, got shape ", tg::to_string(shape()));
  return tg::transpose(*this, 0, 1);
}
Tensor Tensor::transpose(int axis0, int axis1) const { return tg::transpose(*this, axis0, axis1); }
Tensor Tensor::matmul(const Tensor& other) const { return tg::matmul(*this, other); }
Tensor Tensor::pow(double exponent) const { return tg::pow(*this, exponent); }
Tensor Tensor::exp() const { return tg::exp(*this); }
Tensor Tensor::log() const { return tg::log(*this); }
Tensor Tensor::tanh() const { return tg::tanh(*this); }
Tensor Tensor::sigmoid() const { return tg::sigmoid(*this); }
Tensor Tensor::relu() const { return tg::relu(*this); }
Tensor Tensor::abs() const { return tg::abs(*this); }
Tensor Tensor::sqrt() const { return tg::sqrt(*this); }
Tensor Tensor::squeeze() const { return tg::squeeze(*this); }
Tensor Tensor::unsqueeze(int axis) const { return tg::unsqueeze(*this, axis); }
Tensor Tensor::flatten() const { return tg::flatten(*this); }
Tensor Tensor::argmax(int axis, bool keepdim) const { return tg::argmax(*this, axis, keepdim); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const {
  if (!min && !max) fail("clamp: at least one of min and max must be given");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  return tg::clamp(*this, min.value_or(-kInf), max.value_or(kInf));
}
Tensor Tensor::clamp_min(double min) const { return tg::clamp_min(*this, min); }
Tensor Tensor::clamp_max(double max) const { return tg::clamp_max(*this, max); }
Tensor Tensor::index(const std::vector<Index>& indices) const { return tg::getitem(*this, indices); }
Tensor Tensor::operator[](std::int64_t i) const { return tg::select(*this, 0, i); }

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  os << "tensor(";
  std::visit([&](const auto& a) { os << std::setprecision(8) << a; }, t.impl()->value);
  os << ", dtype=" << to_string(t.dtype()) << ", shape=" << to_string(t.shape());
  if (!t.is_leaf()) os << ", grad_fn=" << t.grad_fn_name();
  else if (t.requires_grad()) os << ", requires_grad=true";
  return os << ")";
}

// ---- Shared helpers (kernels.hpp) ----------------------------------------------------------------

namespace detail {

void require_defined(const char* op, const Tensor& t) {
  if (!t.defined()) fail(op, ": got an undefined tensor");
}

void require_floating(const char* op, const Tensor& t) {
  require_defined(op, t);
  if (!t.is_floating_point())
    fail(op, ": expected a float32 or float64 tensor, got ", to_string(t.dtype()), " of shape ",
         to_string(t.shape()));
}

void require_same_floating(const char* op, const Tensor& a, const Tensor& b) {
  require_floating(op, a);
  require_floating(op, b);
  if (a.dtype() != b.dtype())
    fail(op, ": dtype mismatch, ", to_string(a.dtype()), to_string(a.shape()), " and ",
         to_string(b.dtype()), to_string(b.shape()), " (convert one with .to())");
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::size_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(op, ": shapes ", to_string(a), " and ", to_string(b), " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::size_t normalize_axis(const char* op, int axis, std::size_t ndim, const Shape& shape) {
  const auto n = static_cast<long>(ndim);
  const long a = axis < 0 ? axis + n : axis;
  if (a < 0 || a >= n)
    fail(op, ": axis ", axis, " is out of range for a tensor of shape ", to_string(shape));
  return static_cast<std::size_t>(a);
}

std::size_t product(const Shape& s) {
  std::size_t p = 1;
  for (auto d : s) p *= d;
  return p;
}

Tensor full_as(const Tensor& t, double value) {
  return full(t.shape(), value, TensorOptions(t.dtype()));
}

Tensor scalar_tensor(double value, DType d) { return tensor(value, TensorOptions(d)); }

}  // namespace detail

// ---- Factories -----------------------------------------------------------------------------------

namespace {
Tensor from_doubles(xt::xarray<double>&& v, const TensorOptions& o) {
  Tensor t;
  switch (o.dtype_) {
    case DType::float64: t = Tensor(std::move(v)); break;
    case DType::float32: t = Tensor(xt::xarray<float>(xt::cast<float>(v))); break;
    case DType::int64: t = Tensor(to_int64(v, "tensor")); break;
    case DType::boolean: t = Tensor(xt::xarray<bool>(xt::cast<bool>(v))); break;
  }
  if (o.requires_grad_) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor from_double(const xt::xarray<double>& values, TensorOptions options) {
  return from_doubles(xt::xarray<double>(values), options);
}

Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
  auto v = detail::empty_array<double>(shape);
  if (v.size() != values.size())
    fail("from_vector: ", values.size(), " values do not fill shape ", to_string(shape), " (",
         v.size(), " elements)");
  std::copy(values.begin(), values.end(), v.begin());
  return from_doubles(std::move(v), options);
}
void NestedList::flatten(Shape& shape, std::vector<double>& values) const {
  // Breadth by depth: the first element at each level fixes the extent, the rest must agree.
  shape.clear();
  values.clear();
  for (const NestedList* level = this; level->is_list_; level = &level->items_.front()) {
    shape.push_back(level->items_.size());
    if (level->items_.empty()) break;
  }
  std::vector<std::pair<const NestedList*, std::size_t>> stack{{this, 0}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (!node->is_list_) {
      if (depth != shape.size()) fail("tensor: ragged nested list (a number where a list was expected)");
      values.push_back(node->value_);
      continue;
    }
    if (depth >= shape.size() || node->items_.size() != shape[depth])
      fail("tensor: ragged nested list: expected ", depth < shape.size() ? shape[depth] : 0,
           " entries at depth ", depth, ", found ", node->items_.size());
    for (auto it = node->items_.rbegin(); it != node->items_.rend(); ++it) stack.push_back({&*it, depth + 1});
  }
}

Tensor tensor(const NestedList& values, TensorOptions o) {
  Shape shape;
  std::vector<double> flat;
  values.flatten(shape, flat);
  auto v = detail::empty_array<double>(shape);
  std::copy(flat.begin(), flat.end(), v.begin());
  return from_doubles(std::move(v), o);
}

namespace {
/// full() under the name of the factory the caller used, for messages.
Tensor full_as_op(const char* op, const Shape& shape, double value, const TensorOptions& o) {
  Tensor t;
  auto fill = [&](auto tag) {
    using T = decltype(tag);
    auto a = detail::empty_array<T>(shape, op);
    T fill_value;
    if constexpr (std::is_same_v<T, std::int64_t>) fill_value = int64_of(value, 0, op);
    else fill_value = static_cast<T>(value);
    std::fill(a.begin(), a.end(), fill_value);
    t = Tensor(std::move(a));
  };
  switch (o.dtype_) {
    case DType::float32: fill(float{}); break;
    case DType::float64: fill(double{}); break;
    case DType::int64: fill(std::int64_t{}); break;
    case DType::boolean: fill(bool{}); break;
  }
  if (o.requires_grad_) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor full(const Shape& shape, double value, TensorOptions o) { return full_as_op("full", shape, value, o); }
Tensor zeros(const Shape& shape, TensorOptions o) { return full_as_op("zeros", shape, 0.0, o); }
Tensor ones(const Shape& shape, TensorOptions o) { return full_as_op("ones", shape, 1.0, o); }
Tensor zeros_like(const Tensor& t) { return full(t.shape(), 0.0, TensorOptions(t.dtype())); }
Tensor ones_like(const Tensor& t) { return full(t.shape(), 1.0, TensorOptions(t.dtype())); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, TensorOptions(t.dtype())); }

Tensor arange(double start, double stop, double step, TensorOptions o) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    fail("arange: invalid range start=", start, " stop=", stop, " step=", step);
  // (stop - start) / step may be huge or overflow to infinity: checked_count refuses both.
  const std::size_t n = detail::checked_count("arange", "length", std::ceil((stop - start) / step));
  auto v = detail::empty_array<double>(Shape{n}, "arange");
  for (std::size_t i = 0; i < n; ++i) v(i) = start + static_cast<double>(i) * step;
  return from_doubles(std::move(v), o);
}

Tensor linspace(double start, double stop, std::size_t count, TensorOptions o) {
  auto v = detail::empty_array<double>(Shape{count}, "linspace");
  for (std::size_t i = 0; i < count; ++i)
    v(i) = count == 1 ? start
                      : start + (stop - start) * static_cast<double>(i) / static_cast<double>(count - 1);
  return from_doubles(std::move(v), o);
}

Tensor eye(std::size_t n, std::size_t m, TensorOptions o) {
  if (m == 0) m = n;
  auto v = detail::zeros_array<double>(Shape{n, m}, "eye");
  for (std::size_t i = 0; i < std::min(n, m); ++i) v(i, i) = 1.0;
  return from_doubles(std::move(v), o);
}

}  // namespace tg
