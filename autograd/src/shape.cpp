// Shape ops. Tensors are always contiguous, so these copy; backward routes gradients back to the
// positions they came from (adjoint pairs: slice/slice_backward, gather/scatter_add,
// index_select/index_add), each pair deriving the other, so higher orders work.
#include "tapegrad/ops/shape.hpp"

#include <algorithm>
#include <cstring>

#include "kernels.hpp"
#include "parallel.hpp"
#include "strided.hpp"
#include "tape.hpp"
#include "tapegrad/ops/reduce.hpp"

namespace tg {

using detail::as_i64;
using detail::elem_t;

namespace {

/// Calls f(xarray<T> const&) for any dtype.
template <class F>
decltype(auto) visit_any(const Tensor& t, F&& f) {
  return std::visit(std::forward<F>(f), t.impl()->value);
}

/// Product of extents before / after an axis.
std::size_t outer_of(const Shape& s, std::size_t axis) {
  return detail::product(Shape(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(axis)));
}
std::size_t inner_of(const Shape& s, std::size_t axis) {
  return detail::product(Shape(s.begin() + static_cast<std::ptrdiff_t>(axis) + 1, s.end()));
}

/// Reads an int64 index tensor, checking every entry lies in [0, extent).
const xt::xarray<std::int64_t>& checked_index(const char* op, const Tensor& index, std::size_t extent,
                                              const Shape& shape, int axis) {
  detail::require_defined(op, index);
  if (index.dtype() != DType::int64)
    fail(op, ": index must be an int64 tensor, got ", to_string(index.dtype()));
  const auto& iv = index.value<std::int64_t>();
  for (std::int64_t i : iv)
    if (i < 0 || static_cast<std::size_t>(i) >= extent)
      fail(op, ": index ", i, " is out of range for axis ", axis, " of size ", extent, " (shape ",
           to_string(shape), ")");
  return iv;
}

/// Python slice normalisation: the first index and the number of elements taken.
std::pair<std::size_t, std::size_t> resolve_slice(const char* op, std::size_t n, std::optional<std::int64_t> start,
                                                  std::optional<std::int64_t> stop, std::int64_t step,
                                                  const Shape& shape) {
  if (step <= 0) fail(op, ": slice step must be positive, got ", step);
  const auto len = static_cast<std::int64_t>(n);
  auto clampi = [&](std::int64_t v) {
    if (v < 0) v += len;
    return std::clamp<std::int64_t>(v, 0, len);
  };
  const std::int64_t b = start ? clampi(*start) : 0;
  const std::int64_t e = stop ? clampi(*stop) : len;
  (void)shape;
  // ceil((e - b) / step) without forming e - b + step - 1, which overflows for large steps.
  const std::int64_t count = e > b ? 1 + (e - b - 1) / step : 0;
  return {static_cast<std::size_t>(b), static_cast<std::size_t>(count)};
}

/// Forward of slice and the body of slice_backward: copies between x (full) and y (sliced).
template <class T, bool kScatter>
void slice_copy(const T* full, T* sliced, std::size_t outer, std::size_t n_full, std::size_t inner,
                std::size_t begin, std::size_t count, std::size_t step) {
  if (!kScatter && outer == 1 && step == 1) {  // one block, e.g. a batch of rows: copied on all threads
    const T* from = full + begin * inner;
    detail::parallel_for(count * inner, detail::kParallelMinChunk,
                         [&](std::size_t b, std::size_t e) { std::copy(from + b, from + e, sliced + b); });
    return;
  }
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t j = 0; j < count; ++j) {
      const std::size_t src = (o * n_full + begin + j * step) * inner;
      const std::size_t dst = (o * count + j) * inner;
      if constexpr (kScatter) {
        T* f = const_cast<T*>(full);
        for (std::size_t i = 0; i < inner; ++i) f[src + i] += sliced[dst + i];
      } else {
        std::copy(full + src, full + src + inner, sliced + dst);
      }
    }
}

Tensor slice_backward(const Tensor& g, const Shape& in_shape, std::size_t axis, std::size_t begin,
                      std::size_t count, std::size_t step);

Tensor slice_impl(const Tensor& x, std::size_t axis, std::size_t begin, std::size_t count, std::size_t step) {
  const Shape shape = x.shape();
  Shape out_shape = shape;
  out_shape[axis] = count;
  Tensor out = visit_any(x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::empty_array<T>(out_shape, "slice");
    slice_copy<T, false>(v.data(), r.data(), outer_of(shape, axis), shape[axis], inner_of(shape, axis),
                         begin, count, step);
    return Tensor(std::move(r));
  });
  return record(
      "slice", std::move(out), {x}, kSaveNone,
      [shape, axis, begin, count, step](BackwardContext& c) {
        c.set_grad(0, slice_backward(c.grad(), shape, axis, begin, count, step));
      },
      [&](const JvpContext& c) { return slice_impl(c.tangent(0), axis, begin, count, step); });
}

Tensor slice_backward(const Tensor& g, const Shape& in_shape, std::size_t axis, std::size_t begin,
                      std::size_t count, std::size_t step) {
  Tensor out = detail::visit_floating("slice_backward", g, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::zeros_array<T>(in_shape, "slice_backward");
    slice_copy<T, true>(r.data(), const_cast<T*>(v.data()), outer_of(in_shape, axis), in_shape[axis],
                        inner_of(in_shape, axis), begin, count, step);
    return Tensor(std::move(r));
  });
  return record(
      "slice_backward", std::move(out), {g}, kSaveNone,
      [axis, begin, count, step](BackwardContext& c) { c.set_grad(0, slice_impl(c.grad(), axis, begin, count, step)); },
      [&](const JvpContext& c) { return slice_backward(c.tangent(0), in_shape, axis, begin, count, step); });
}

}  // namespace

Tensor reshape(const Tensor& x, const std::vector<std::int64_t>& shape) {
  detail::require_defined("reshape", x);
  const Shape from = x.shape();
  const std::size_t n = x.numel();
  Shape to(shape.size());
  std::size_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) fail("reshape: only one extent can be -1, got ", to_string(Shape(shape.begin(), shape.end())));
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      fail("reshape: invalid extent ", shape[i], " in the target shape");
    } else {
      to[i] = static_cast<std::size_t>(shape[i]);
      if (!detail::mul_fits(known, to[i], known))
        fail("reshape: target shape ", to_string(Shape(shape.begin(), shape.end())),
             " has more elements than can be addressed");
    }
  }
  auto describe = [&] {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + ")";
  };
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      fail("reshape: cannot reshape a tensor of shape ", to_string(from), " (", n, " elements) into ", describe());
    to[static_cast<std::size_t>(infer)] = n / known;
  } else if (known != n) {
    fail("reshape: cannot reshape a tensor of shape ", to_string(from), " (", n, " elements) into ",
         describe(), " (", known, " elements)");
  }
  // Always a new tensor, even for the same shape: shape ops never alias (tensor.hpp).
  Tensor out = visit_any(x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::empty_array<T>(to, "reshape");
    std::copy(v.data(), v.data() + v.size(), r.data());
    return Tensor(std::move(r));
  });
  return record(
      "reshape", std::move(out), {x}, kSaveNone,
      [from](BackwardContext& c) { c.set_grad(0, reshape(c.grad(), as_i64(from))); },
      [&](const JvpContext& c) { return reshape(c.tangent(0), as_i64(to)); });
}

Tensor flatten(const Tensor& x, int start_axis, int end_axis) {
  detail::require_defined("flatten", x);
  const Shape s = x.shape();
  if (s.empty()) return reshape(x, {1});
  const std::size_t a = detail::normalize_axis("flatten", start_axis, s.size(), s);
  const std::size_t b = detail::normalize_axis("flatten", end_axis, s.size(), s);
  if (a > b) fail("flatten: start axis ", start_axis, " comes after end axis ", end_axis, " for shape ", to_string(s));
  std::vector<std::int64_t> to;
  for (std::size_t i = 0; i < a; ++i) to.push_back(static_cast<std::int64_t>(s[i]));
  std::size_t mid = 1;
  for (std::size_t i = a; i <= b; ++i) mid *= s[i];
  to.push_back(static_cast<std::int64_t>(mid));
  for (std::size_t i = b + 1; i < s.size(); ++i) to.push_back(static_cast<std::int64_t>(s[i]));
  return reshape(x, to);
}

Tensor squeeze(const Tensor& x) {
  detail::require_defined("squeeze", x);
  std::vector<std::int64_t> to;
  for (auto d : x.shape())
    if (d != 1) to.push_back(static_cast<std::int64_t>(d));
  return reshape(x, to);
}

Tensor squeeze(const Tensor& x, int axis) {
  detail::require_defined("squeeze", x);
  const Shape s = x.shape();
  if (s.empty()) return reshape(x, {});
  const std::size_t a = detail::normalize_axis("squeeze", axis, s.size(), s);
  if (s[a] != 1) return reshape(x, as_i64(s));
  Shape to = s;
  to.erase(to.begin() + static_cast<std::ptrdiff_t>(a));
  return reshape(x, as_i64(to));
}

Tensor unsqueeze(const Tensor& x, int axis) {
  detail::require_defined("unsqueeze", x);
  Shape s = x.shape();
  const std::size_t a = detail::normalize_axis("unsqueeze", axis, s.size() + 1, s);
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(a), 1);
  return reshape(x, as_i64(s));
}

Tensor expand(const Tensor& x, const Shape& shape) {
  detail::require_defined("expand", x);
  const Shape from = x.shape();
  if (from == shape) return reshape(x, as_i64(shape));  // a copy, as every shape op
  bool ok = from.size() <= shape.size();
  for (std::size_t i = 0; ok && i < from.size(); ++i) {
    const std::size_t d = from[from.size() - 1 - i], t = shape[shape.size() - 1 - i];
    ok = d == t || d == 1;
  }
  if (!ok) fail("expand: cannot broadcast shape ", to_string(from), " to ", to_string(shape));
  Tensor out = visit_any(x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::empty_array<T>(shape, "expand");  // checks the size before broadcasting
    detail::strided_copy(v.data(), shape, detail::broadcast_strides(from, shape), r.data());
    return Tensor(std::move(r));
  });
  return record(
      "expand", std::move(out), {x}, kSaveNone, [from](BackwardContext& c) { c.set_grad(0, sum_to(c.grad(), from)); },
      [&](const JvpContext& c) { return expand(c.tangent(0), shape); });
}

Tensor slice(const Tensor& x, int axis, std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
             std::int64_t step) {
  detail::require_defined("slice", x);
  const Shape s = x.shape();
  const std::size_t a = detail::normalize_axis("slice", axis, s.size(), s);
  const auto [begin, count] = resolve_slice("slice", s[a], start, stop, step, s);
  return slice_impl(x, a, begin, count, static_cast<std::size_t>(step));
}

Tensor select(const Tensor& x, int axis, std::int64_t index) {
  detail::require_defined("select", x);
  const Shape s = x.shape();
  const std::size_t a = detail::normalize_axis("select", axis, s.size(), s);
  const auto n = static_cast<std::int64_t>(s[a]);
  const std::int64_t i = index < 0 ? index + n : index;
  if (i < 0 || i >= n)
    fail("select: index ", index, " is out of range for axis ", axis, " of size ", n, " (shape ", to_string(s), ")");
  Shape to = s;
  to.erase(to.begin() + static_cast<std::ptrdiff_t>(a));
  return reshape(slice_impl(x, a, static_cast<std::size_t>(i), 1, 1), as_i64(to));
}

Tensor getitem(const Tensor& x, const std::vector<Index>& index) {
  detail::require_defined("getitem", x);
  if (index.size() > x.dim())
    fail("getitem: ", index.size(), " indices for a tensor of shape ", to_string(x.shape()));
  // Integer indices are checked against x's own axes first, so the message names the axis the
  // caller wrote, not its position in an intermediate result.
  const Shape s = x.shape();
  for (std::size_t k = 0; k < index.size(); ++k) {
    if (index[k].is_slice) continue;
    const auto n = static_cast<std::int64_t>(s[k]);
    if (index[k].index < -n || index[k].index >= n)
      fail("getitem: index ", index[k].index, " is out of range for axis ", k, " of size ", n, " (shape ",
           to_string(s), ")");
  }
  Tensor r = x;
  int axis = 0;
  for (const Index& e : index) {
    if (e.is_slice) {
      r = slice(r, axis, e.start, e.stop, e.step);
      ++axis;
    } else {
      r = select(r, axis, e.index);
    }
  }
  return r;
}

Tensor index_select(const Tensor& x, int axis, const Tensor& index) {
  detail::require_defined("index_select", x);
  const Shape s = x.shape();
  const std::size_t a = detail::normalize_axis("index_select", axis, s.size(), s);
  if (index.defined() && index.dim() != 1)
    fail("index_select: index must be 1-D, got shape ", to_string(index.shape()));
  const auto& iv = checked_index("index_select", index, s[a], s, axis);
  Shape out_shape = s;
  out_shape[a] = iv.size();
  const std::size_t outer = outer_of(s, a), inner = inner_of(s, a), n = s[a];
  Tensor out = visit_any(x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::empty_array<T>(out_shape, "index_select");
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t j = 0; j < iv.size(); ++j) {
        const T* src = v.data() + (o * n + static_cast<std::size_t>(iv.data()[j])) * inner;
        std::copy(src, src + inner, r.data() + (o * iv.size() + j) * inner);
      }
    return Tensor(std::move(r));
  });
  return record(
      "index_select", std::move(out), {x, index}, kSaveInput1,
      [s, a](BackwardContext& c) { c.set_grad(0, index_add(s, static_cast<int>(a), c.input(1), c.grad())); },
      [&](const JvpContext& c) { return index_select(c.tangent(0), static_cast<int>(a), index); });
}

Tensor index_add(const Shape& shape, int axis, const Tensor& index, const Tensor& src) {
  detail::require_floating("index_add", src);
  const std::size_t a = detail::normalize_axis("index_add", axis, shape.size(), shape);
  const auto& iv = checked_index("index_add", index, shape[a], shape, axis);
  Shape expect = shape;
  expect[a] = iv.size();
  if (src.shape() != expect)
    fail("index_add: source of shape ", to_string(src.shape()), " does not match ", to_string(expect));
  const std::size_t outer = outer_of(shape, a), inner = inner_of(shape, a), n = shape[a];
  Tensor out = detail::visit_floating("index_add", src, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::zeros_array<T>(shape, "index_add");
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t j = 0; j < iv.size(); ++j) {
        const T* from = v.data() + (o * iv.size() + j) * inner;
        T* to = r.data() + (o * n + static_cast<std::size_t>(iv.data()[j])) * inner;
        for (std::size_t i = 0; i < inner; ++i) to[i] += from[i];
      }
    return Tensor(std::move(r));
  });
  return record(
      "index_add", std::move(out), {src, index}, kSaveInput1,
      [a](BackwardContext& c) { c.set_grad(0, index_select(c.grad(), static_cast<int>(a), c.input(1))); },
      [&](const JvpContext& c) { return index_add(shape, static_cast<int>(a), index, c.tangent(0)); });
}

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  detail::require_floating("embedding", weight);
  if (weight.dim() != 2) fail("embedding: weight must be 2-D (num, dim), got shape ", to_string(weight.shape()));
  detail::require_defined("embedding", indices);
  if (indices.dtype() != DType::int64) fail("embedding: indices must be int64, got ", to_string(indices.dtype()));
  const std::size_t num = weight.shape()[0];
  for (std::int64_t i : indices.value<std::int64_t>())
    if (i < 0 || static_cast<std::size_t>(i) >= num)
      fail("embedding: index ", i, " is out of range for a weight of shape ", to_string(weight.shape()));
  std::vector<std::int64_t> out_shape = as_i64(indices.shape());
  out_shape.push_back(static_cast<std::int64_t>(weight.shape()[1]));
  return reshape(index_select(weight, 0, reshape(indices, {-1})), out_shape);
}

namespace {
/// Checks gather/scatter index shapes: same rank, extents within x's except along axis.
void check_gather_index(const char* op, const Shape& s, std::size_t a, const Tensor& index) {
  detail::require_defined(op, index);
  if (index.dtype() != DType::int64) fail(op, ": index must be an int64 tensor, got ", to_string(index.dtype()));
  const Shape is = index.shape();
  if (is.size() != s.size())
    fail(op, ": index of shape ", to_string(is), " must have the same rank as the input ", to_string(s));
  for (std::size_t d = 0; d < s.size(); ++d)
    if (d != a && is[d] > s[d])
      fail(op, ": index shape ", to_string(is), " exceeds input shape ", to_string(s), " at axis ", d);
  checked_index(op, index, s[a], s, static_cast<int>(a));
}

/// Visits every index element: f(flat position in index, flat position in the full tensor).
template <class F>
void for_each_gather(const Shape& s, std::size_t a, const Shape& is, const xt::xarray<std::int64_t>& iv, F f) {
  const std::size_t nd = s.size();
  std::vector<std::size_t> stride(nd, 1), pos(nd, 0);
  for (std::size_t d = nd; d-- > 1;) stride[d - 1] = stride[d] * s[d];
  const std::size_t total = iv.size();
  for (std::size_t k = 0; k < total; ++k) {
    std::size_t flat = 0;
    for (std::size_t d = 0; d < nd; ++d)
      flat += (d == a ? static_cast<std::size_t>(iv.data()[k]) : pos[d]) * stride[d];
    f(k, flat);
    for (std::size_t d = nd; d-- > 0;) {
      if (++pos[d] < is[d]) break;
      pos[d] = 0;
    }
  }
}
}  // namespace

Tensor gather(const Tensor& x, int axis, const Tensor& index) {
  detail::require_defined("gather", x);
  const Shape s = x.shape();
  const std::size_t a = detail::normalize_axis("gather", axis, s.size(), s);
  check_gather_index("gather", s, a, index);
  const Shape is = index.shape();
  const auto& iv = index.value<std::int64_t>();
  Tensor out = visit_any(x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::empty_array<T>(is, "gather");
    for_each_gather(s, a, is, iv, [&](std::size_t k, std::size_t flat) { r.data()[k] = v.data()[flat]; });
    return Tensor(std::move(r));
  });
  return record(
      "gather", std::move(out), {x, index}, kSaveInput1,
      [s, a](BackwardContext& c) { c.set_grad(0, scatter_add(s, static_cast<int>(a), c.input(1), c.grad())); },
      [&](const JvpContext& c) { return gather(c.tangent(0), static_cast<int>(a), index); });
}

Tensor scatter_add(const Shape& shape, int axis, const Tensor& index, const Tensor& src) {
  detail::require_floating("scatter_add", src);
  const std::size_t a = detail::normalize_axis("scatter_add", axis, shape.size(), shape);
  check_gather_index("scatter_add", shape, a, index);
  const Shape is = index.shape();
  if (src.shape() != is)
    fail("scatter_add: source of shape ", to_string(src.shape()), " must match index shape ", to_string(is));
  const auto& iv = index.value<std::int64_t>();
  Tensor out = detail::visit_floating("scatter_add", src, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::zeros_array<T>(shape, "scatter_add");
    for_each_gather(shape, a, is, iv, [&](std::size_t k, std::size_t flat) { r.data()[flat] += v.data()[k]; });
    return Tensor(std::move(r));
  });
  return record(
      "scatter_add", std::move(out), {src, index}, kSaveInput1,
      [a](BackwardContext& c) { c.set_grad(0, gather(c.grad(), static_cast<int>(a), c.input(1))); },
      [&](const JvpContext& c) { return scatter_add(shape, static_cast<int>(a), index, c.tangent(0)); });
}

Tensor cat(const std::vector<Tensor>& tensors, int axis) {
  if (tensors.empty()) fail("cat: needs at least one tensor");
  for (const auto& t : tensors) detail::require_defined("cat", t);
  const Shape s0 = tensors[0].shape();
  if (s0.empty()) fail("cat: zero-dimensional tensors cannot be concatenated (use stack)");
  const std::size_t a = detail::normalize_axis("cat", axis, s0.size(), s0);
  Shape out_shape = s0;
  out_shape[a] = 0;
  std::vector<std::size_t> extents;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const Shape sk = tensors[k].shape();
    bool ok = sk.size() == s0.size() && tensors[k].dtype() == tensors[0].dtype();
    for (std::size_t d = 0; ok && d < sk.size(); ++d) ok = d == a || sk[d] == s0[d];
    if (!ok)
      fail("cat: tensor ", k, " has ", to_string(tensors[k].dtype()), to_string(sk), " but tensor 0 has ",
           to_string(tensors[0].dtype()), to_string(s0), " (all extents but axis ", axis, " must match)");
    extents.push_back(sk[a]);
    out_shape[a] = detail::checked_add("cat", "extent", out_shape[a], sk[a]);
  }
  const std::size_t outer = outer_of(s0, a), inner = inner_of(s0, a);
  Tensor out = visit_any(tensors[0], [&](const auto& v0) {
    using T = elem_t<decltype(v0)>;
    auto r = detail::empty_array<T>(out_shape, "cat");
    std::size_t offset = 0;
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      const auto& v = tensors[k].value<T>();
      const std::size_t chunk = extents[k] * inner;
      for (std::size_t o = 0; o < outer; ++o)
        std::copy(v.data() + o * chunk, v.data() + (o + 1) * chunk, r.data() + o * out_shape[a] * inner + offset);
      offset += chunk;
    }
    return Tensor(std::move(r));
  });
  return record(
      "cat", std::move(out), tensors, kSaveNone,
      [a, extents](BackwardContext& c) {
        std::size_t begin = 0;
        for (std::size_t k = 0; k < extents.size(); ++k) {
          if (c.needs_grad(k)) c.set_grad(k, slice_impl(c.grad(), a, begin, extents[k], 1));
          begin += extents[k];
        }
      },
      [&](const JvpContext& c) {
        std::vector<Tensor> parts;
        parts.reserve(tensors.size());
        for (std::size_t k = 0; k < tensors.size(); ++k) parts.push_back(c.tangent_or_zeros(k));
        return cat(parts, static_cast<int>(a));
      });
}

Tensor stack(const std::vector<Tensor>& tensors, int axis) {
  if (tensors.empty()) fail("stack: needs at least one tensor");
  for (const auto& t : tensors) detail::require_defined("stack", t);
  const Shape s0 = tensors[0].shape();
  for (std::size_t k = 1; k < tensors.size(); ++k)
    if (tensors[k].shape() != s0 || tensors[k].dtype() != tensors[0].dtype())
      fail("stack: tensor ", k, " has ", to_string(tensors[k].dtype()), to_string(tensors[k].shape()),
           " but tensor 0 has ", to_string(tensors[0].dtype()), to_string(s0), " (all must have one shape and dtype)");
  const std::size_t a = detail::normalize_axis("stack", axis, s0.size() + 1, s0);
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const auto& t : tensors) parts.push_back(unsqueeze(t, static_cast<int>(a)));
  return cat(parts, static_cast<int>(a));
}

}  // namespace tg
