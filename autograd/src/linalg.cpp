// Matrix products (cblas gemm, with transposes passed to BLAS rather than copied) and axis
// permutations. The derivatives of mm/bmm are mm/bmm with other transpose flags.
#include "tapegrad/ops/linalg.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "blas_core.hpp"
#include "kernels.hpp"
#include "parallel.hpp"
#include "strided.hpp"
#include "tape.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tapegrad/ops/shape.hpp"

namespace tg {

using detail::as_i64;
using detail::elem_t;

namespace {

// c += op(a) op(b) (beta = 1) as one single-threaded OpenBLAS call, by element type.
void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float* a, int lda,
               const float* b, int ldb, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
}
void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double* a, int lda,
               const double* b, int ldb, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, 1.0, c, ldc);
}

/// Products smaller than this (multiply-adds) stay on one thread, as OpenBLAS's own threading
/// keeps them (65536 x GEMM_MULTITHREAD_THRESHOLD 4).
constexpr double kSplitMacs = 262144;

/// c += op(a) op(b). With 2 or more threads a large product is split into one part per thread,
/// by columns of c (rows when c has more rows than columns) on 64-byte boundaries, each part one
/// single-threaded OpenBLAS call on a thread of tapegrad's pool. The products run as fast as on
/// OpenBLAS's own threads (the mlp epoch's: 0.418-0.422 against 0.423-0.428 s), and the pool's
/// worker, the only thread spinning between products, is then reliably free for the elementwise
/// loops (bench/PROFILE.md, session 4). Like OpenBLAS's own split, the parts may round the
/// entries near their edges differently from one call (its kernels handle a call's edge tiles in
/// their own order).
template <class T>
void blas_gemm_acc(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const T* a, int lda, const T* b,
                   int ldb, T* c, int ldc) {
  const int threads = detail::num_threads();
  const bool by_columns = n >= m;
  const int extent = by_columns ? n : m;
  const int align = by_columns ? static_cast<int>(64 / sizeof(T)) : 1;
  const int parts = std::min(threads, extent / align);
  if (parts < 2 || static_cast<double>(m) * n * k < kSplitMacs) {
    gemm_call(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
    return;
  }
  const int step = ((extent + parts - 1) / parts + align - 1) / align * align;
  detail::parallel_tasks(static_cast<std::size_t>((extent + step - 1) / step), [&](std::size_t part) {
    const int begin = static_cast<int>(part) * step, count = std::min(step, extent - begin);
    if (by_columns)  // columns of op(b): b + begin, or rows b + begin * ldb when b is transposed
      gemm_call(ta, tb, m, count, k, a, lda, tb == CblasNoTrans ? b + begin : b + std::ptrdiff_t{begin} * ldb, ldb,
                c + begin, ldc);
    else  // rows of op(a)
      gemm_call(ta, tb, count, n, k, ta == CblasNoTrans ? a + std::ptrdiff_t{begin} * lda : a + begin, lda, b, ldb,
                c + std::ptrdiff_t{begin} * ldc, ldc);
  });
}
void blas_gemv_acc(int rows, int cols, const float* a, const float* x, float* y) {
  cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0f, a, cols, x, 1, 1.0f, y, 1);
}
void blas_gemv_acc(int rows, int cols, const double* a, const double* x, double* y) {
  cblas_dgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0, a, cols, x, 1, 1.0, y, 1);
}

// c = op(a) op(b), computed as c = 0, then c += op(a) op(b): the same bits as beta = 0, whose
// zeroing pass OpenBLAS 0.3.21 runs slower than memset with 2 threads (the 256x784 weight
// gradient of the MNIST mlp: 323 us as one call, 295 us with memset first).
template <class T>
void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const T* a, int lda, const T* b,
               int ldb, T* c, int ldc) {
  std::fill_n(c, static_cast<std::size_t>(m) * static_cast<std::size_t>(ldc), T(0));
  blas_gemm_acc(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
}
void blas_gemv(CBLAS_TRANSPOSE t, int rows, int cols, const float* a, const float* x, float* y) {
  cblas_sgemv(CblasRowMajor, t, rows, cols, 1.0f, a, cols, x, 1, 0.0f, y, 1);
}
void blas_gemv(CBLAS_TRANSPOSE t, int rows, int cols, const double* a, const double* x, double* y) {
  cblas_dgemv(CblasRowMajor, t, rows, cols, 1.0, a, cols, x, 1, 0.0, y, 1);
}

/// y (rows x out) = x (rows x in) w^T + b, w stored (out, in): the forward of affine. BLAS adds
/// the product to y pre-filled with b (beta = 1, as PyTorch's addmm): one pass over y instead of
/// a product, a broadcast add and the product's zeroing of y.
template <class T>
void affine_kernel(std::size_t rows, std::size_t out, std::size_t in, const T* x, const T* w, const T* b, T* y) {
  const detail::BlasOnOneThread one_thread;  // blas_core.hpp
  const int R = static_cast<int>(rows), O = static_cast<int>(out), I = static_cast<int>(in);
  if (rows > 1 && rows < 16 && out > rows && in > 0) {
    // Few rows (a small batch): OpenBLAS's kernels block 16 rows of the left operand at a time and
    // waste most of a block on 10 rows, so y^T = w x^T + b is computed instead (10 x 784 by 784 x 30:
    // 15 us as x w^T, 10.7 us as w x^T) and transposed into y.
    std::vector<T> yt(rows * out);
    for (std::size_t j = 0; j < out; ++j) std::fill_n(yt.data() + j * rows, rows, b[j]);
    blas_gemm_acc(CblasNoTrans, CblasTrans, O, R, I, w, I, x, I, yt.data(), R);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < out; ++j) y[i * out + j] = yt[j * rows + i];
    return;
  }
  for (std::size_t i = 0; i < rows; ++i) std::copy(b, b + out, y + i * out);
  if (in == 0) return;
  if (rows == 1) blas_gemv_acc(O, I, w, x, y);
  else blas_gemm_acc(CblasNoTrans, CblasTrans, R, O, I, x, I, w, I, y, O);
}

float blas_dot(int n, const float* a, const float* b) { return cblas_sdot(n, a, 1, b, 1); }
double blas_dot(int n, const double* a, const double* b) { return cblas_ddot(n, a, 1, b, 1); }

/// c (m x n) = op(a) (m x k) @ op(b) (k x n), row-major and contiguous. Vector-shaped products
/// go to the level-1/2 routines, as NumPy's dot does, so a NumPy program ported to tapegrad
/// rounds the same way (and gemv beats gemm on them).
template <class T>
void matmul_kernel(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, const T* b, T* c) {
  const detail::BlasOnOneThread one_thread;  // blas_core.hpp
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  if (m == 1 && n == 1) {
    c[0] = blas_dot(K, a, b);
  } else if (n == 1 && k > 1) {
    // c = op(a) b: a is stored (m, k), or (k, m) when transposed.
    blas_gemv(ta ? CblasTrans : CblasNoTrans, ta ? K : M, ta ? M : K, a, b, c);
  } else if (m == 1 && k > 1) {
    // c^T = op(b)^T a^T: b is stored (k, n), or (n, k) when transposed.
    blas_gemv(tb ? CblasNoTrans : CblasTrans, tb ? N : K, tb ? K : N, b, a, c);
  } else {
    blas_gemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, a, ta ? M : K, b,
              tb ? K : N, c, N);
  }
}

[[noreturn]] void not_aligned(const char* op, const Tensor& a, const Tensor& b) {
  fail(op, ": shapes ", to_string(a.shape()), " and ", to_string(b.shape()), " are not aligned");
}

/// Batched product over `batch` pairs of (m,k)x(k,n) matrices (after the transposes).
Tensor gemm_batched(const char* op, const Tensor& a, const Tensor& b, bool ta, bool tb, bool batched) {
  detail::require_same_floating(op, a, b);
  const std::size_t rank = batched ? 3 : 2;
  if (a.dim() != rank || b.dim() != rank)
    fail(op, ": expects ", rank, "-D tensors, got shapes ", to_string(a.shape()), " and ", to_string(b.shape()));
  const Shape sa = a.shape(), sb = b.shape();
  const std::size_t off = batched ? 1 : 0;
  const std::size_t batch = batched ? sa[0] : 1;
  if (batched && sb[0] != batch)
    fail(op, ": batch sizes differ, shapes ", to_string(sa), " and ", to_string(sb));
  const std::size_t m = ta ? sa[off + 1] : sa[off], ka = ta ? sa[off] : sa[off + 1];
  const std::size_t kb = tb ? sb[off + 1] : sb[off], n = tb ? sb[off] : sb[off + 1];
  if (ka != kb) not_aligned(op, a, b);
  Shape out_shape = batched ? Shape{batch, m, n} : Shape{m, n};
  return detail::visit_floating(op, a, [&](const auto& av) {
    using T = elem_t<decltype(av)>;
    const auto& bv = b.value<T>();
    auto r = detail::empty_array<T>(out_shape, op);
    if (ka == 0) {
      std::fill(r.begin(), r.end(), T(0));
    } else if (m && n) {
      for (std::size_t i = 0; i < batch; ++i)
        matmul_kernel(ta, tb, m, n, ka, av.data() + i * m * ka, bv.data() + i * ka * n, r.data() + i * m * n);
    }
    return Tensor(std::move(r));
  });
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor out = gemm_batched("mm", a, b, ta, tb, false);
  // C = op(A) op(B):  dA = G op(B)^T (or its transpose), dB = op(A)^T G (or its transpose).
  return record(
      "mm", std::move(out), {a, b}, kSaveInput0 | kSaveInput1,
      [ta, tb](BackwardContext& c) {
        const Tensor &A = c.input(0), &B = c.input(1), &G = c.grad();
        if (c.needs_grad(0)) c.set_grad(0, ta ? mm(B, G, tb, true) : mm(G, B, false, !tb));
        if (c.needs_grad(1)) c.set_grad(1, tb ? mm(G, A, true, ta) : mm(A, G, !ta, false));
      },
      [ta, tb](const JvpContext& c) {
        // d(op(A) op(B)) = op(dA) op(B) + op(A) op(dB)
        return detail::add_tangents(c.has_tangent(0) ? mm(c.tangent(0), c.input(1), ta, tb) : Tensor(),
                                    c.has_tangent(1) ? mm(c.input(0), c.tangent(1), ta, tb) : Tensor());
      });
}

Tensor bmm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor out = gemm_batched("bmm", a, b, ta, tb, true);
  return record(
      "bmm", std::move(out), {a, b}, kSaveInput0 | kSaveInput1,
      [ta, tb](BackwardContext& c) {
        const Tensor &A = c.input(0), &B = c.input(1), &G = c.grad();
        if (c.needs_grad(0)) c.set_grad(0, ta ? bmm(B, G, tb, true) : bmm(G, B, false, !tb));
        if (c.needs_grad(1)) c.set_grad(1, tb ? bmm(G, A, true, ta) : bmm(A, G, !ta, false));
      },
      [ta, tb](const JvpContext& c) {
        return detail::add_tangents(c.has_tangent(0) ? bmm(c.tangent(0), c.input(1), ta, tb) : Tensor(),
                                    c.has_tangent(1) ? bmm(c.input(0), c.tangent(1), ta, tb) : Tensor());
      });
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::require_same_floating("matmul", a, b);
  const std::size_t da = a.dim(), db = b.dim();
  if (da == 0 || db == 0)
    fail("matmul: both operands need at least one axis, got shapes ", to_string(a.shape()), " and ",
         to_string(b.shape()));
  const Shape sa = a.shape(), sb = b.shape();
  if (da == 1 && db == 1) {
    if (sa[0] != sb[0]) not_aligned("matmul", a, b);
    return sum(a * b);
  }
  if (da == 2 && db == 2) {
    if (sa[1] != sb[0]) not_aligned("matmul", a, b);
    return mm(a, b);
  }
  if (da == 1) {
    if (sa[0] != sb[db - 2]) not_aligned("matmul", a, b);
    return squeeze(matmul(unsqueeze(a, 0), b), -2);
  }
  if (db == 1) {
    if (sb[0] != sa[da - 1]) not_aligned("matmul", a, b);
    return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  }
  const std::size_t n = sa[da - 2], k = sa[da - 1], m = sb[db - 1];
  if (sb[db - 2] != k) not_aligned("matmul", a, b);
  if (db == 2) {
    // (..., n, k) @ (k, m): one gemm over all rows.
    Shape out = sa;
    out.back() = m;
    return reshape(mm(reshape(a, {-1, static_cast<std::int64_t>(k)}), b), as_i64(out));
  }
  const Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  Shape batch;
  try {
    batch = detail::broadcast_shapes("matmul", batch_a, batch_b);
  } catch (const Error&) {
    fail("matmul: batch dimensions of shapes ", to_string(sa), " and ", to_string(sb), " cannot be broadcast");
  }
  const auto nb = static_cast<std::int64_t>(detail::product(batch));
  Shape ea = batch, eb = batch;
  ea.insert(ea.end(), {n, k});
  eb.insert(eb.end(), {k, m});
  const Tensor a3 = reshape(expand(a, ea), {nb, static_cast<std::int64_t>(n), static_cast<std::int64_t>(k)});
  const Tensor b3 = reshape(expand(b, eb), {nb, static_cast<std::int64_t>(k), static_cast<std::int64_t>(m)});
  Shape out = batch;
  out.insert(out.end(), {n, m});
  return reshape(bmm(a3, b3), as_i64(out));
}

namespace {

/// y = x W^T + b for 2-D x (rows, in), weight (out, in), bias (out): linear's op with a bias
/// (linear has checked dtypes and shapes).
Tensor affine(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const std::size_t rows = x.shape()[0], out = weight.shape()[0], in = x.shape()[1];
  Tensor y = detail::visit_floating("affine", x, [&](const auto& xv) {
    using T = elem_t<decltype(xv)>;
    const T* b = bias.value<T>().data();
    auto r = detail::empty_array<T>(Shape{rows, out});
    if (rows && out) affine_kernel(rows, out, in, xv.data(), weight.value<T>().data(), b, r.data());
    return Tensor(std::move(r));
  });
  // y = x W^T + b:  dx = G W,  dW = G^T x,  db = G summed over the rows.
  return record(
      "affine", std::move(y), {x, weight, bias}, kSaveInput0 | kSaveInput1,
      [](BackwardContext& c) {
        const Tensor &X = c.input(0), &W = c.input(1), &G = c.grad();
        if (c.needs_grad(0)) c.set_grad(0, mm(G, W));
        if (c.needs_grad(1)) c.set_grad(1, mm(G, X, true, false));
        if (c.needs_grad(2)) c.set_grad(2, sum(G, {0}));
      },
      [](const JvpContext& c) {
        // dy = dx W^T + x dW^T + db (db broadcast over the rows)
        Tensor t = c.has_tangent(0) ? mm(c.tangent(0), c.input(1), false, true) : Tensor();
        if (c.has_tangent(1)) t = detail::add_tangents(t, mm(c.input(0), c.tangent(1), false, true));
        return detail::add_tangents(t, c.tangent(2));
      });
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::require_same_floating("linear", x, weight);
  if (weight.dim() != 2) fail("linear: weight must be 2-D (out, in), got shape ", to_string(weight.shape()));
  if (x.dim() == 0 || x.shape().back() != weight.shape()[1])
    fail("linear: input of shape ", to_string(x.shape()), " does not match weight of shape ",
         to_string(weight.shape()), " (expected last extent ", weight.shape()[1], ")");
  if (bias.defined()) {
    detail::require_same_floating("linear", x, bias);
    if (bias.dim() != 1 || bias.shape()[0] != weight.shape()[0])
      fail("linear: bias of shape ", to_string(bias.shape()), " does not match weight of shape ",
           to_string(weight.shape()));
  }
  const auto in = static_cast<std::int64_t>(weight.shape()[1]);
  const Tensor x2 = x.dim() == 2 ? x : reshape(x, {-1, in});
  Tensor y = bias.defined() ? affine(x2, weight, bias) : mm(x2, weight, false, true);
  if (x.dim() == 2) return y;
  Shape out = x.shape();
  out.back() = weight.shape()[0];
  return reshape(y, as_i64(out));
}

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  detail::require_defined("permute", x);
  const Shape s = x.shape();
  if (dims.size() != s.size())
    fail("permute: ", dims.size(), " axes given for a tensor of shape ", to_string(s));
  std::vector<std::size_t> perm(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    perm[i] = detail::normalize_axis("permute", dims[i], s.size(), s);
    if (seen[perm[i]]) fail("permute: axis ", dims[i], " repeated");
    seen[perm[i]] = true;
  }
  bool identity = true;
  for (std::size_t i = 0; i < perm.size(); ++i) identity = identity && perm[i] == i;
  if (identity) return reshape(x, std::vector<std::int64_t>(s.begin(), s.end()));  // still a copy
  Tensor out = std::visit(
      [&](const auto& v) {
        using T = elem_t<decltype(v)>;
        Shape to(perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i) to[i] = s[perm[i]];
        auto r = detail::empty_array<T>(to, "permute");  // allocation failure -> tg::Error
        detail::strided_copy(v.data(), to, detail::permuted_strides(s, perm), r.data());
        return Tensor(std::move(r));
      },
      x.impl()->value);
  std::vector<int> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int>(i);
  return record(
      "permute", std::move(out), {x}, kSaveNone,
      [inverse](BackwardContext& c) { c.set_grad(0, permute(c.grad(), inverse)); },
      [&](const JvpContext& c) { return permute(c.tangent(0), dims); });
}

Tensor transpose(const Tensor& x, int axis0, int axis1) {
  detail::require_defined("transpose", x);
  const Shape s = x.shape();
  const std::size_t a = detail::normalize_axis("transpose", axis0, s.size(), s);
  const std::size_t b = detail::normalize_axis("transpose", axis1, s.size(), s);
  std::vector<int> dims(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) dims[i] = static_cast<int>(i);
  std::swap(dims[a], dims[b]);
  return permute(x, dims);
}

}  // namespace tg
