// Reductions and softmax family: each forward followed by its backward in tapegrad ops.
#include "tapegrad/ops/reduce.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernels.hpp"
#include "strided.hpp"
#include "tape.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/linalg.hpp"
#include "tapegrad/ops/shape.hpp"
#include "vector_math.hpp"

namespace tg {

using detail::as_i64;
using detail::elem_t;

namespace {

/// Sorted, unique, non-negative axes; empty input means every axis.
std::vector<std::size_t> resolve_axes(const char* op, const Axes& axes, const Shape& shape) {
  std::vector<std::size_t> out;
  if (axes.empty()) {
    for (std::size_t i = 0; i < shape.size(); ++i) out.push_back(i);
    return out;
  }
  for (int a : axes) out.push_back(detail::normalize_axis(op, a, shape.size(), shape));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    fail(op, ": axis listed twice for shape ", to_string(shape));
  return out;
}

/// The shape after reducing `axes`: kept as 1 (keepdim) or removed.
Shape reduced_shape(const Shape& shape, const std::vector<std::size_t>& axes, bool keepdim) {
  Shape out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool reduced = std::binary_search(axes.begin(), axes.end(), i);
    if (!reduced)
      out.push_back(shape[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

/// Number of elements folded into each output element.
std::size_t reduced_count(const Shape& shape, const std::vector<std::size_t>& axes) {
  std::size_t n = 1;
  for (auto a : axes) n *= shape[a];
  return n;
}

/// Undoes a reduction for the backward pass: g (reduced shape) -> keepdim shape -> input shape.
Tensor expand_back(const Tensor& g, const Shape& input_shape, const std::vector<std::size_t>& axes) {
  return expand(reshape(g, as_i64(reduced_shape(input_shape, axes, true))), input_shape);
}

/// Folds the elements of v over `axes` into an array of the keepdim shape: every output element
/// starts at `init` and takes f(acc, e) for each element e of its group, in row-major order.
/// NOTE: not xt::sum/xt::prod/xt::amax: xtensor 0.24's immediate reducers read through a null
/// pointer on zero-size inputs (segfault for sum of a (0,3) tensor); here a zero-size group
/// simply yields init (sum 0, prod 1) and zero groups yield an empty result.
template <class T, class F>
xt::xarray<T> fold(const xt::xarray<T>& v, const std::vector<std::size_t>& axes, T init, F f) {
  const Shape in = detail::shape_of(v);
  auto r = detail::empty_array<T>(reduced_shape(in, axes, true));
  std::fill(r.begin(), r.end(), init);
  T* out = r.data();
  const T* src = v.data();
  const std::size_t n = v.size(), nd = in.size();
  if (axes.size() == nd) {  // everything into one element
    for (std::size_t i = 0; i < n; ++i) out[0] = f(out[0], src[i]);
    return r;
  }
  // Fast paths that accumulate in the same order as the walk below (so give the same bits):
  // reduced axes all leading (bias gradients: a sum over the batch; the inner loop vectorises),
  // all trailing (row sums), or one block of neighbours in the middle (a keepdim reduction over
  // a middle axis, as in x - x.mean(1, keepdim)): there the walk paid its per-run cost on every
  // row of the inner axes, 2.2x PyTorch's time on (64,512,64) (bench/PROFILE.md, session 20).
  const std::size_t groups = r.size();
  const bool leading = !axes.empty() && axes.back() == axes.size() - 1;
  const bool trailing = !axes.empty() && axes.front() == nd - axes.size();
  const bool block = !axes.empty() && axes.back() - axes.front() + 1 == axes.size();
  if ((leading || trailing) && groups > 0) {
    const std::size_t k = n / groups;  // elements per output
    if (leading) {
      for (std::size_t row = 0; row < k; ++row)
        for (std::size_t j = 0; j < groups; ++j) out[j] = f(out[j], src[row * groups + j]);
    } else {
      for (std::size_t g = 0; g < groups; ++g)
        for (std::size_t j = 0; j < k; ++j) out[g] = f(out[g], src[g * k + j]);
    }
    return r;
  }
  if (block && n > 0) {
    std::size_t inner = 1, reduced = 1;
    for (std::size_t d = axes.back() + 1; d < nd; ++d) inner *= in[d];
    for (std::size_t a : axes) reduced *= in[a];
    for (std::size_t o = 0; o < groups / inner; ++o) {
      T* acc = out + o * inner;
      for (std::size_t j = 0; j < reduced; ++j) {
        const T* row = src + (o * reduced + j) * inner;
        for (std::size_t k = 0; k < inner; ++k) acc[k] = f(acc[k], row[k]);
      }
    }
    return r;
  }
  // Walk the input in row-major order, the output position moving by its strides (0 on reduced
  // axes), one innermost run at a time (strided.hpp).
  if (n == 0) return r;
  detail::Strides out_strides = detail::contiguous_strides(detail::shape_of(r));
  for (auto a : axes) out_strides[a] = 0;
  const detail::LoopNest loop = detail::collapse_axes(in, {out_strides, detail::contiguous_strides(in)});
  const bool reduce_inner = loop.strides[0].back() == 0;
  detail::for_each_run<2>(loop, [&](const std::array<std::ptrdiff_t, 2>& o, std::size_t run) {
    T* to = out + o[0];
    const T* from = src + o[1];
    if (reduce_inner) {
      T acc = *to;
      for (std::size_t j = 0; j < run; ++j) acc = f(acc, from[j]);
      *to = acc;
    } else {
      for (std::size_t j = 0; j < run; ++j) to[j] = f(to[j], from[j]);
    }
  });
  return r;
}

/// Applies fold(values, axes, init, f) to a floating tensor and shapes the result.
template <class F>
Tensor reduce_values(const char* op, const Tensor& x, const std::vector<std::size_t>& axes, bool keepdim, double init,
                     F f) {
  const Shape out_shape = reduced_shape(x.shape(), axes, keepdim);
  return detail::visit_floating(op, x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    xt::xarray<T> res = fold(v, axes, static_cast<T>(init), f);
    res.reshape(out_shape);
    return Tensor(std::move(res));
  });
}

/// For each element, the product of the other elements of its reduction group (exact with zeros).
/// While recording (create_graph) it is composed of differentiable ops, so prod has derivatives of
/// every order at inputs with zeros: each group of k values becomes a k x k table whose row i is
/// the group with element i replaced by 1, and prod over the rows gives the k products (prod's
/// backward of that table recurses one level deeper only when the next order is recorded too).
Tensor product_of_others(const Tensor& x, const std::vector<std::size_t>& axes) {
  const Shape shape = x.shape();
  // Move reduced axes last: (kept..., reduced...) -> rows of length k.
  std::vector<int> perm;
  Shape rows_shape;
  for (std::size_t i = 0; i < shape.size(); ++i)
    if (!std::binary_search(axes.begin(), axes.end(), i)) {
      perm.push_back(static_cast<int>(i));
      rows_shape.push_back(shape[i]);
    }
  for (auto a : axes) perm.push_back(static_cast<int>(a));
  const std::size_t k = reduced_count(shape, axes);
  rows_shape.push_back(k);
  const Tensor moved = permute(x, perm);
  std::vector<int> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[static_cast<std::size_t>(perm[i])] = static_cast<int>(i);

  // (Also with a tangent: forward over reverse differentiates this backward formula.)
  if ((is_grad_enabled() && x.requires_grad()) || detail::has_live_tangent(x)) {
    const Tensor rows = reshape(moved, as_i64(rows_shape));  // (..., k)
    Shape table_shape = rows_shape;
    table_shape.insert(table_shape.end() - 1, k);  // (..., k, k)
    const Tensor table = expand(unsqueeze(rows, -2), table_shape);
    const Tensor others = prod(where(eye(k, k, TensorOptions(DType::boolean)), 1.0, table), {-1});
    return permute(reshape(others, as_i64(moved.shape())), inverse);
  }
  Tensor result = detail::visit_floating("prod", moved, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::empty_array<T>(v.shape());
    const std::size_t rows = k ? v.size() / k : 0;
    for (std::size_t row = 0; row < rows; ++row) {
      const T* in = v.data() + row * k;
      T* out = r.data() + row * k;
      T acc = 1;
      for (std::size_t j = 0; j < k; ++j) {
        out[j] = acc;
        acc *= in[j];
      }
      acc = 1;
      for (std::size_t j = k; j-- > 0;) {
        out[j] *= acc;
        acc *= in[j];
      }
    }
    return Tensor(std::move(r));
  });
  return permute(result, inverse);
}

/// softmax(x) over several axes at once (differentiable): the reduced axes are moved last and
/// merged into one.
Tensor softmax_over(const Tensor& x, const std::vector<std::size_t>& axes) {
  if (x.dim() == 0) return ones_like(x);
  if (axes.size() == 1) return softmax(x, static_cast<int>(axes[0]));
  const Shape shape = x.shape();
  std::vector<int> perm;
  std::vector<std::int64_t> merged;
  for (std::size_t i = 0; i < shape.size(); ++i)
    if (!std::binary_search(axes.begin(), axes.end(), i)) {
      perm.push_back(static_cast<int>(i));
      merged.push_back(static_cast<std::int64_t>(shape[i]));
    }
  for (auto a : axes) perm.push_back(static_cast<int>(a));
  merged.push_back(-1);
  const Tensor moved = permute(x, perm);
  std::vector<int> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[static_cast<std::size_t>(perm[i])] = static_cast<int>(i);
  return permute(reshape(softmax(reshape(moved, merged), -1), as_i64(moved.shape())), inverse);
}

/// exp(x - max) for softmax's sweeps, the difference rounded first. float32 goes through exp()'s
/// kernel (vector_math.hpp: a value's result does not depend on its position), so softmax(x) =
/// exp(x - max) / sum as exp() computes it; float64 through libm. exp_shifted: out = exp(in -
/// shift), one shift for all n. exp_minus: out[i] = exp(in[i] - shifts[i % width]), for n a
/// multiple of width (rows of width, each shifted by the same row of shifts), each also added
/// to sums[i % width], row after row.
void exp_shifted(const float* in, float shift, float* out, std::size_t n) {
  detail::exp_shifted_f32(in, shift, out, n);
}
void exp_shifted(const double* in, double shift, double* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = std::exp(in[i] - shift);
}
void exp_minus(const float* in, const float* shifts, std::size_t width, float* out, std::size_t n, float* sums) {
  detail::exp_minus_f32(in, shifts, width, out, n, sums);
}
void exp_minus(const double* in, const double* shifts, std::size_t width, double* out, std::size_t n, double* sums) {
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = std::exp(in[i] - shifts[i % width]);
    sums[i % width] += out[i];
  }
}

/// x /= d elementwise, d one value or n (float32 eight lanes where the CPU has AVX).
void divide(float* x, std::size_t n, float d) { detail::divide_f32(x, n, d); }
void divide(double* x, std::size_t n, double d) {
  for (std::size_t i = 0; i < n; ++i) x[i] /= d;
}
void divide(float* x, std::size_t n, const float* d) { detail::divide_f32(x, n, d); }
void divide(double* x, std::size_t n, const double* d) {
  for (std::size_t i = 0; i < n; ++i) x[i] /= d[i];
}

/// Independent accumulators of the row reductions below: eight lanes vectorise, and do not wait
/// on the latency of each addition as one running sum does.
constexpr std::size_t kLanes = 8;

/// The largest of n >= 1 values, NaNs skipped (a NaN in the group makes the sum, and so every
/// result of the group, NaN anyway).
template <class T>
T max_of(const T* x, std::size_t n) {
  T lane[kLanes];
  std::fill_n(lane, kLanes, -std::numeric_limits<T>::infinity());
  std::size_t i = 0;
#if defined(__SSE2__)
  // GCC leaves the loop below scalar (a lane array spilled every step); maxps(a, b) is exactly
  // a > b ? a : b per lane, so the lanes get the same values.
  if constexpr (std::is_same_v<T, float>) {
    __m128 lo = _mm_loadu_ps(lane), hi = _mm_loadu_ps(lane + 4);
    for (; i + kLanes <= n; i += kLanes) {
      lo = _mm_max_ps(_mm_loadu_ps(x + i), lo);
      hi = _mm_max_ps(_mm_loadu_ps(x + i + 4), hi);
    }
    _mm_storeu_ps(lane, lo);
    _mm_storeu_ps(lane + 4, hi);
  } else if constexpr (std::is_same_v<T, double>) {
    __m128d l0 = _mm_loadu_pd(lane), l1 = _mm_loadu_pd(lane + 2), l2 = _mm_loadu_pd(lane + 4),
            l3 = _mm_loadu_pd(lane + 6);
    for (; i + kLanes <= n; i += kLanes) {
      l0 = _mm_max_pd(_mm_loadu_pd(x + i), l0);
      l1 = _mm_max_pd(_mm_loadu_pd(x + i + 2), l1);
      l2 = _mm_max_pd(_mm_loadu_pd(x + i + 4), l2);
      l3 = _mm_max_pd(_mm_loadu_pd(x + i + 6), l3);
    }
    _mm_storeu_pd(lane, l0);
    _mm_storeu_pd(lane + 2, l1);
    _mm_storeu_pd(lane + 4, l2);
    _mm_storeu_pd(lane + 6, l3);
  }
#endif
  for (; i + kLanes <= n; i += kLanes)
    for (std::size_t k = 0; k < kLanes; ++k) lane[k] = x[i + k] > lane[k] ? x[i + k] : lane[k];
  for (; i < n; ++i) lane[0] = x[i] > lane[0] ? x[i] : lane[0];
  T m = lane[0];
  for (std::size_t k = 1; k < kLanes; ++k) m = lane[k] > m ? lane[k] : m;
  return m;
}

/// The sum of n values in kLanes partial sums, added pairwise at the end.
template <class T>
T sum_of(const T* x, std::size_t n) {
  T lane[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (std::size_t k = 0; k < kLanes; ++k) lane[k] += x[i + k];
  for (; i < n; ++i) lane[0] += x[i];
  for (std::size_t width = kLanes / 2; width > 0; width /= 2)
    for (std::size_t k = 0; k < width; ++k) lane[k] += lane[k + width];
  return lane[0];
}

/// softmax (or log_softmax when `take_log`) of groups of n contiguous values (the last axis): per
/// group one pass for the maximum, one writing exp(x - max), one summing it, one scaling.
/// With `lse`, also each group's logsumexp, log(sum) + max (softmax only); `normalize` false
/// leaves the exps unscaled in y (for a logsumexp that does not keep the softmax).
/// NOTE: x - max is exact for entries within a factor 2 of the maximum (Sterbenz), so no rounding
/// error of size ulp(|x|) enters, whatever the magnitude of x; a group whose maximum is not finite
/// is shifted by 0 (all -inf gives 0/0 = NaN, as the unshifted formula, and logsumexp -inf).
template <class T>
void softmax_rows(const T* x, T* y, std::size_t groups, std::size_t n, bool take_log, T* lse = nullptr,
                  bool normalize = true) {
  std::vector<T> scratch(take_log ? n : 0);
  for (std::size_t g = 0; g < groups; ++g) {
    const T* in = x + g * n;
    T* out = y + g * n;
    T m = max_of(in, n);
    if (!std::isfinite(m)) m = 0;
    if (take_log) {
      exp_shifted(in, m, scratch.data(), n);
      const T shift = std::log(sum_of(scratch.data(), n));
      for (std::size_t j = 0; j < n; ++j) out[j] = (in[j] - m) - shift;
    } else {
      exp_shifted(in, m, out, n);
      const T total = sum_of(out, n);
      if (lse) lse[g] = std::log(total) + m;
      if (normalize) divide(out, n, total);
    }
  }
}

/// softmax_rows for an axis with `inner` > 1 elements after it: each group is a column of an
/// (n, inner) block, and the columns of a block are processed side by side, kColumns at a time,
/// so every pass reads contiguous rows. Each column's sum runs down the column in order.
template <class T>
void softmax_columns(const T* x, T* y, std::size_t outer, std::size_t n, std::size_t inner, bool take_log,
                     T* lse = nullptr, bool normalize = true) {
  constexpr std::size_t kColumns = 512;
  const std::size_t width = std::min(inner, kColumns);
  // When a group is whole rows (inner <= kColumns), its rows lie end to end: exp(x - max) runs
  // over several rows per call (about kColumns elements), not one short row per call.
  const std::size_t rows_per_call = inner <= kColumns ? std::max<std::size_t>(1, kColumns / inner) : 1;
  std::vector<T> m(width), s(width), scratch(take_log ? width * rows_per_call : 0);
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t c0 = 0; c0 < inner; c0 += width) {
      const std::size_t w = std::min(width, inner - c0);
      const T* in = x + o * n * inner + c0;
      T* out = y + o * n * inner + c0;
      std::fill_n(m.data(), w, -std::numeric_limits<T>::infinity());
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t c = 0; c < w; ++c) m[c] = in[j * inner + c] > m[c] ? in[j * inner + c] : m[c];
      for (std::size_t c = 0; c < w; ++c) {
        if (!std::isfinite(m[c])) m[c] = 0;
        s[c] = 0;
      }
      for (std::size_t j0 = 0; j0 < n; j0 += rows_per_call) {
        const std::size_t rows = std::min(rows_per_call, n - j0);
        T* e = take_log ? scratch.data() : out + j0 * inner;
        exp_minus(in + j0 * inner, m.data(), w, e, rows * w, s.data());  // (rows > 1 only when w == inner)
      }
      if (take_log) {
        for (std::size_t c = 0; c < w; ++c) s[c] = std::log(s[c]);
        for (std::size_t j = 0; j < n; ++j)
          for (std::size_t c = 0; c < w; ++c) out[j * inner + c] = (in[j * inner + c] - m[c]) - s[c];
      } else {
        if (lse)
          for (std::size_t c = 0; c < w; ++c) lse[o * inner + c0 + c] = std::log(s[c]) + m[c];
        if (normalize)
          for (std::size_t j = 0; j < n; ++j) divide(out + j * inner, w, s.data());
      }
    }
}

/// The values of softmax(x, axis) (or log_softmax), without history. With `lse`, the same sweep
/// also gives logsumexp over the axis (keepdim or not), and the softmax only when `normalize`.
Tensor softmax_values(const char* op, const Tensor& x, std::size_t axis, bool take_log, Tensor* lse = nullptr,
                      bool keepdim = false, bool normalize = true) {
  const Shape shape = x.shape();
  const std::size_t n = shape[axis];
  const std::size_t inner = detail::product(Shape(shape.begin() + static_cast<std::ptrdiff_t>(axis) + 1, shape.end()));
  return detail::visit_floating(op, x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    auto r = detail::empty_array<T>(shape, op);
    xt::xarray<T> l;
    if (lse) l = detail::empty_array<T>(reduced_shape(shape, {axis}, keepdim), op);
    if (v.size() != 0) {
      const std::size_t outer = v.size() / (n * inner);
      if (inner == 1)
        softmax_rows(v.data(), r.data(), outer, n, take_log, lse ? l.data() : nullptr, normalize);
      else
        softmax_columns(v.data(), r.data(), outer, n, inner, take_log, lse ? l.data() : nullptr, normalize);
    }
    if (lse) *lse = Tensor(std::move(l));
    return Tensor(std::move(r));
  });
}

}  // namespace

namespace {
/// sum of an int64 or bool tensor: an int64 result without history, as PyTorch.
Tensor integer_sum(const Tensor& x, const Axes& axes_in, bool keepdim) {
  const auto axes = resolve_axes("sum", axes_in, x.shape());
  const Tensor wide = x.dtype() == DType::int64 ? x : x.to(DType::int64);
  xt::xarray<std::int64_t> res =
      fold(wide.value<std::int64_t>(), axes, std::int64_t{0}, [](std::int64_t acc, std::int64_t e) {
        // Wraps on overflow as PyTorch's int64 sum does, without UB.
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(acc) + static_cast<std::uint64_t>(e));
      });
  res.reshape(reduced_shape(x.shape(), axes, keepdim));
  return Tensor(std::move(res));
}
}  // namespace

Tensor sum(const Tensor& x, const Axes& axes_in, bool keepdim) {
  detail::require_defined("sum", x);
  if (!x.is_floating_point()) return integer_sum(x, axes_in, keepdim);
  detail::require_floating("sum", x);
  const Shape shape = x.shape();
  const auto axes = resolve_axes("sum", axes_in, shape);
  Tensor out = reduce_values("sum", x, axes, keepdim, 0.0, [](auto acc, auto e) { return acc + e; });
  return record(
      "sum", std::move(out), {x}, kSaveNone,
      [shape, axes](BackwardContext& c) { c.set_grad(0, expand_back(c.grad(), shape, axes)); },
      [&](const JvpContext& c) { return sum(c.tangent(0), axes_in, keepdim); });
}

Tensor mean(const Tensor& x, const Axes& axes_in, bool keepdim) {
  detail::require_defined("mean", x);
  if (!x.is_floating_point())
    fail("mean: could not infer the output dtype: input is ", to_string(x.dtype()), to_string(x.shape()),
         ", and mean needs a floating dtype (as PyTorch); convert it with .to(kFloat32) or .to(kFloat64)");
  const auto axes = resolve_axes("mean", axes_in, x.shape());
  const std::size_t n = reduced_count(x.shape(), axes);
  if (n == 0) fail("mean: no elements to average in a tensor of shape ", to_string(x.shape()));
  return sum(x, axes_in, keepdim) / static_cast<double>(n);
}

Tensor count_nonzero(const Tensor& x, const Axes& axes, bool keepdim) {
  detail::require_defined("count_nonzero", x);
  return sum(ne(x, 0.0), axes, keepdim);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  const Shape from = x.shape();
  if (from == shape) return x;
  if (shape.size() > from.size()) fail("sum_to: cannot reduce shape ", to_string(from), " to ", to_string(shape));
  const std::size_t lead = from.size() - shape.size();
  Axes axes;
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (i < lead) {
      axes.push_back(static_cast<int>(i));
    } else if (shape[i - lead] != from[i]) {
      if (shape[i - lead] != 1) fail("sum_to: cannot reduce shape ", to_string(from), " to ", to_string(shape));
      axes.push_back(static_cast<int>(i));
    }
  }
  if (axes.empty()) return reshape(x, as_i64(shape));
  return reshape(sum(x, axes, true), as_i64(shape));
}

Tensor prod(const Tensor& x, const Axes& axes_in, bool keepdim) {
  detail::require_floating("prod", x);
  const Shape shape = x.shape();
  const auto axes = resolve_axes("prod", axes_in, shape);
  Tensor out = reduce_values("prod", x, axes, keepdim, 1.0, [](auto acc, auto e) { return acc * e; });
  return record(
      "prod", std::move(out), {x}, kSaveInput0 | kSaveOutput,
      [shape, axes](BackwardContext& c) {
        const Tensor& x = c.input(0);
        const Tensor g = expand_back(c.grad(), shape, axes);
        const Tensor zero = eq(x, 0.0);
        const auto& z = zero.value<bool>();
        if (std::none_of(z.begin(), z.end(), [](bool b) { return b; })) {
          // d prod / d x_i = prod / x_i when no factor is zero.
          c.set_grad(0, g * expand_back(c.output(), shape, axes) / x);
          return;
        }
        // NOTE: prod / x_i is 0/0 at a zero factor, so with zeros the product of the other factors
        // is formed directly (differentiably when the sweep records, see product_of_others).
        c.set_grad(0, g * product_of_others(x, axes));
      },
      [&](const JvpContext& c) {
        // d prod = sum_i (prod of the others) dx_i: exact with zero factors too.
        return sum(c.tangent(0) * product_of_others(c.input(0), axes), axes_in, keepdim);
      });
}

Tensor var(const Tensor& x, const Axes& axes_in, bool unbiased, bool keepdim) {
  detail::require_floating("var", x);
  const auto axes = resolve_axes("var", axes_in, x.shape());
  const std::size_t n = reduced_count(x.shape(), axes);
  if (n == 0) fail("var: no elements in a tensor of shape ", to_string(x.shape()));
  if (unbiased && n < 2)
    fail("var: unbiased variance needs at least 2 elements per group, shape ", to_string(x.shape()));
  // Composed (mean, square, sum), so derivatives of every order follow.
  const Tensor centred = x - mean(x, axes_in, true);
  return sum(centred * centred, axes_in, keepdim) / static_cast<double>(unbiased ? n - 1 : n);
}

Tensor std(const Tensor& x, const Axes& axes, bool unbiased, bool keepdim) {
  return sqrt(var(x, axes, unbiased, keepdim));
}

Tensor logsumexp(const Tensor& x, const Axes& axes_in, bool keepdim) {
  detail::require_floating("logsumexp", x);
  const Shape shape = x.shape();
  const auto axes = resolve_axes("logsumexp", axes_in, shape);
  if (reduced_count(shape, axes) == 0) fail("logsumexp: no elements in a tensor of shape ", to_string(shape));
  auto jvp = [&](const JvpContext& c) { return sum(c.tangent(0) * softmax_over(c.input(0), axes), axes_in, keepdim); };
  if (axes.size() == 1) {
    // One axis: softmax's sweep, which gives the softmax the backward needs along the way, so a
    // first-order backward reuses the forward's exps instead of computing softmax(x) again.
    const bool recording = detail::should_record(&x, 1);
    Tensor out;
    const Tensor probs = softmax_values("logsumexp", x, axes[0], false, &out, keepdim, recording);
    return record(
        "logsumexp", std::move(out), {x}, kSaveInput0,
        [shape, axis = axes[0], probs](BackwardContext& c) {
          const Tensor& x = c.input(0);  // read for its version check also when probs serve
          const Tensor g = reshape(c.grad(), as_i64(reduced_shape(shape, {axis}, true)));
          // probs are constants: a sweep that records (create_graph) or carries tangents must
          // differentiate softmax(x) itself. Both give the same values (the same sweep).
          if (!is_grad_enabled() && !forward_ad::is_active()) return c.set_grad(0, g * probs);
          c.set_grad(0, g * softmax(x, static_cast<int>(axis)));
        },
        jvp);
  }
  // NOTE: m + log(sum(exp(x - m))) with m the group maximum never overflows; an all -inf group
  // gives -inf (m is replaced by 0 there so that x - m is not NaN).
  Tensor out = detail::visit_floating("logsumexp", x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    xt::xarray<T> m = fold(v, axes, -std::numeric_limits<T>::infinity(),
                           [](T acc, T e) { return e > acc || std::isnan(e) ? e : acc; });
    for (auto& e : m)
      if (!std::isfinite(e)) e = 0;
    const xt::xarray<T> shifted = detail::zip<T>(v, m, [](T e, T top) { return std::exp(e - top); });
    const xt::xarray<T> s = fold(shifted, axes, T(0), [](T acc, T e) { return acc + e; });
    xt::xarray<T> r = detail::empty_array<T>(s.shape());
    for (std::size_t i = 0; i < r.size(); ++i) r.data()[i] = std::log(s.data()[i]) + m.data()[i];
    r.reshape(reduced_shape(shape, axes, keepdim));
    return Tensor(std::move(r));
  });
  return record(
      "logsumexp", std::move(out), {x}, kSaveInput0,
      [shape, axes](BackwardContext& c) {
        // d lse / dx = softmax(x) over the reduced axes. NOTE: not exp(x - lse): lse carries a
        // rounding error of ulp(lse), which exp(x - lse) turns into a relative error of that size
        // (1e-4 in float32 at |x| = 1000); softmax shifts by the exact maximum instead.
        c.set_grad(0, expand_back(c.grad(), shape, axes) * softmax_over(c.input(0), axes));
      },
      jvp);
}

namespace {

/// Full max/min: gradient shared evenly among tied extrema.
template <bool kMax>
Tensor extremum_all(const char* op, const Tensor& x) {
  detail::require_floating(op, x);
  if (x.numel() == 0) fail(op, ": tensor of shape ", to_string(x.shape()), " has no elements");
  Tensor out = detail::visit_floating(op, x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    T best = v.data()[0];
    for (std::size_t i = 1; i < v.size(); ++i) {
      const T e = v.data()[i];
      if (std::isnan(e) || (kMax ? e > best : e < best)) best = e;
      if (std::isnan(best)) break;
    }
    return Tensor(xt::xarray<T>(best));
  });
  return record(
      op, std::move(out), {x}, kSaveInput0 | kSaveOutput,
      [](BackwardContext& c) {
        const Tensor& x = c.input(0);
        const Tensor mask = eq(x, expand(c.output(), x.shape())).to(x.dtype());
        c.set_grad(0, mask * (c.grad() / sum(mask)));
      },
      [](const JvpContext& c) {
        // Ties share evenly, as in the backward (the JVP is its adjoint).
        const Tensor& x = c.input(0);
        const Tensor mask = eq(x, expand(c.output(), x.shape())).to(x.dtype());
        return sum(mask * c.tangent(0)) / sum(mask);
      });
}

template <bool kMax>
Tensor arg_extremum(const char* op, const Tensor& x, int axis, bool keepdim) {
  detail::require_floating(op, x);
  const Shape shape = x.shape();
  const std::size_t ax = detail::normalize_axis(op, axis, shape.size(), shape);
  if (shape[ax] == 0) fail(op, ": axis ", axis, " of shape ", to_string(shape), " is empty");
  const std::size_t outer = detail::product(Shape(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(ax)));
  const std::size_t inner = detail::product(Shape(shape.begin() + static_cast<std::ptrdiff_t>(ax) + 1, shape.end()));
  const std::size_t n = shape[ax];
  Shape out_shape = shape;
  out_shape[ax] = 1;
  xt::xarray<std::int64_t> idx = detail::empty_array<std::int64_t>(out_shape);
  detail::visit_floating(op, x, [&](const auto& v) {
    using T = elem_t<decltype(v)>;
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t i = 0; i < inner; ++i) {
        const T* base = v.data() + o * n * inner + i;
        std::size_t best = 0;
        for (std::size_t j = 1; j < n; ++j) {
          const T e = base[j * inner], b = base[best * inner];
          if (std::isnan(b)) break;
          if (std::isnan(e) || (kMax ? e > b : e < b)) best = j;
        }
        idx.data()[o * inner + i] = static_cast<std::int64_t>(best);
      }
    return 0;
  });
  if (!keepdim) out_shape.erase(out_shape.begin() + static_cast<std::ptrdiff_t>(ax));
  idx.reshape(out_shape);
  return Tensor(std::move(idx));
}

template <bool kMax>
ValuesIndices extremum_axis(const char* op, const Tensor& x, int axis, bool keepdim) {
  const Tensor idx = arg_extremum<kMax>(op, x, axis, true);
  const int ax = static_cast<int>(detail::normalize_axis(op, axis, x.dim(), x.shape()));
  // gather routes the gradient to the chosen element (scatter_add is its adjoint).
  const Tensor picked = gather(x, ax, idx);
  if (keepdim) return ValuesIndices(picked, idx);
  return ValuesIndices(squeeze(picked, ax), squeeze(idx, ax));
}

}  // namespace

Tensor max(const Tensor& x) { return extremum_all<true>("max", x); }
Tensor min(const Tensor& x) { return extremum_all<false>("min", x); }
ValuesIndices max(const Tensor& x, int axis, bool keepdim) { return extremum_axis<true>("max", x, axis, keepdim); }
ValuesIndices min(const Tensor& x, int axis, bool keepdim) { return extremum_axis<false>("min", x, axis, keepdim); }
Tensor argmax(const Tensor& x, int axis, bool keepdim) { return arg_extremum<true>("argmax", x, axis, keepdim); }
Tensor argmin(const Tensor& x, int axis, bool keepdim) { return arg_extremum<false>("argmin", x, axis, keepdim); }

Tensor softmax(const Tensor& x, int axis) {
  detail::require_floating("softmax", x);
  const int ax = static_cast<int>(detail::normalize_axis("softmax", axis, x.dim(), x.shape()));
  // exp(x - max) / sum(exp(x - max)): no overflow, and accurate for inputs of any magnitude
  // (exp(x - logsumexp(x)) would inherit logsumexp's rounding error of ulp(|x|)).
  Tensor out = softmax_values("softmax", x, static_cast<std::size_t>(ax), false);
  return record(
      "softmax", std::move(out), {x}, kSaveOutput,
      [ax](BackwardContext& c) {
        // dx = y * (g - sum(g * y))
        const Tensor& y = c.output();
        c.set_grad(0, y * (c.grad() - sum(c.grad() * y, {ax}, true)));
      },
      [ax](const JvpContext& c) {
        const Tensor& y = c.output();
        return y * (c.tangent(0) - sum(c.tangent(0) * y, {ax}, true));
      });
}

Tensor log_softmax(const Tensor& x, int axis) {
  detail::require_floating("log_softmax", x);
  const int ax = static_cast<int>(detail::normalize_axis("log_softmax", axis, x.dim(), x.shape()));
  // (x - max) - log(sum(exp(x - max))): never adds the maximum back, so the result keeps its
  // accuracy for inputs of any magnitude.
  Tensor out = softmax_values("log_softmax", x, static_cast<std::size_t>(ax), true);
  return record(
      "log_softmax", std::move(out), {x}, kSaveOutput,
      [ax](BackwardContext& c) {
        // dx = g - softmax(x) * sum(g)
        c.set_grad(0, c.grad() - exp(c.output()) * sum(c.grad(), {ax}, true));
      },
      [ax](const JvpContext& c) { return c.tangent(0) - sum(c.tangent(0) * exp(c.output()), {ax}, true); });
}

}  // namespace tg
