// Private: the copies behind every shape op that reorders or repeats elements (permute, transpose,
// expand) and the loops of elementwise ops over broadcast operands, written once instead of
// going through xtensor's generic assignment (a stepper per element: 10-40x a memcpy,
// bench/PROFILE.md, issue 19).
//
// An operand is described by strides over the result's axes, in elements: a contiguous array read
// in another axis order has its strides permuted, a broadcast operand has stride 0 on the axes it
// is repeated along. Every loop here first drops the result's extent-1 axes and merges neighbours
// that every operand walks contiguously (collapse_axes), so most copies become one long run or a
// plain 2-D transpose.
//
// The result is always a fresh contiguous row-major array written element by element: copies are
// bit-identical to any other order of copying, and an elementwise f sees the same pairs of values
// as under xtensor's broadcasting, so results are the same bits.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "tapegrad/error.hpp"

namespace tg::detail {

using Strides = std::vector<std::ptrdiff_t>;

/// The loop nest of a copy or elementwise op after collapse_axes: at least one axis (the
/// innermost last); strides[k] are operand k's strides over them.
struct LoopNest {
  Shape extents;
  std::vector<Strides> strides;
};

/// Row-major strides (in elements) of a contiguous array of shape s.
Strides contiguous_strides(const Shape& s);
/// Strides that read a contiguous array of shape `from` as its permutation `perm` (result axis i
/// is axis perm[i] of from).
Strides permuted_strides(const Shape& from, const std::vector<std::size_t>& perm);
/// Strides that read a contiguous array of shape `from` broadcast to `to` (NumPy's rules, which
/// the caller has checked): 0 on the axes it is repeated along.
Strides broadcast_strides(const Shape& from, const Shape& to);

/// The loop nest over a result of shape `extents` (no extent 0) whose operands have the given
/// strides: extent-1 axes dropped, neighbouring axes merged where every operand allows.
LoopNest collapse_axes(const Shape& extents, std::vector<Strides> strides);

/// Copies whose output has at least this many bytes write it with non-temporal stores where their
/// loop allows (so far the windows of multi-axis transposes): with its source it fills the L3, so
/// it cannot stay there for the next op, and reading each dst line in before overwriting it costs
/// memory bandwidth. The default is half the L3 (one instance's size, from sysfs; 32 MiB when
/// unknown); bench/PROFILE.md, session 18, has the measurements.
std::size_t stream_min_bytes();
/// Sets stream_min_bytes (0: back to the default), so that tests reach both paths with small
/// tensors.
void set_stream_min_bytes(std::size_t bytes);
/// The least bytes a float or double transpose copies for its planes to go through transpose_band
/// (transpose_plane.hpp), kBandMinBytes unless set; set_band_min_bytes(0) goes back to that, so
/// that tests reach the bands with small tensors.
std::size_t band_min_bytes();
void set_band_min_bytes(std::size_t bytes);

/// dst (contiguous, row-major over `shape`) gets element sum_d i_d strides[d] of src at index i.
/// Runs contiguous in src become block copies; a reordering of the innermost axis (a transpose)
/// is copied through register-transposed blocks in cache-sized slices (transpose_plane.hpp).
/// Large copies are split over tapegrad's threads. Instantiated for float, double, std::int64_t
/// and bool.
template <class T>
void strided_copy(const T* src, const Shape& shape, const Strides& strides, T* dst);

/// Calls run(offsets, n) for every innermost run of the loop nest, in row-major order: offsets[k]
/// is operand k's offset at the run's start (operand K-1 is usually the contiguous result), n the
/// run's length; within a run operand k moves by loop.strides[k].back(). The axis before the
/// innermost is walked in a plain loop and only the others by the odometer, whose cost on every
/// run showed on short runs ((64,512,64) - (64,1,64): runs of 64; bench/PROFILE.md, session 20).
template <std::size_t K, class Run>
void for_each_run(const LoopNest& loop, Run&& run) {
  const std::size_t rank = loop.extents.size();
  const std::size_t n = loop.extents[rank - 1];
  const std::size_t rows = rank >= 2 ? loop.extents[rank - 2] : 1, outer = rank >= 2 ? rank - 2 : 0;
  std::array<std::ptrdiff_t, K> row_step{};
  if (rank >= 2)
    for (std::size_t k = 0; k < K; ++k) row_step[k] = loop.strides[k][rank - 2];
  std::vector<std::size_t> pos(outer, 0);
  std::array<std::ptrdiff_t, K> offsets{};
  for (;;) {
    std::array<std::ptrdiff_t, K> at = offsets;
    for (std::size_t i = 0; i < rows; ++i) {
      run(at, n);
      for (std::size_t k = 0; k < K; ++k) at[k] += row_step[k];
    }
    bool more = false;
    for (std::size_t d = outer; d-- > 0;) {
      for (std::size_t k = 0; k < K; ++k) offsets[k] += loop.strides[k][d];
      if (++pos[d] < loop.extents[d]) {
        more = true;
        break;
      }
      for (std::size_t k = 0; k < K; ++k)
        offsets[k] -= loop.strides[k][d] * static_cast<std::ptrdiff_t>(loop.extents[d]);
      pos[d] = 0;
    }
    if (!more) return;
  }
}

/// r[i] = f(a[ia], b[ib]) over the broadcast of a's and b's shapes (`out`, checked by the caller,
/// no extent 0), r contiguous. The inner loops are specialised for the strides a broadcast
/// contiguous operand has on the innermost axis (1 or 0), so they vectorise.
template <class R, class A, class B, class F>
void broadcast_apply(const A* a, const Shape& a_shape, const B* b, const Shape& b_shape, const Shape& out, R* r, F f) {
  const LoopNest loop =
      collapse_axes(out, {broadcast_strides(a_shape, out), broadcast_strides(b_shape, out), contiguous_strides(out)});
  const std::ptrdiff_t sa = loop.strides[0].back(), sb = loop.strides[1].back();
  for_each_run<3>(loop, [&](const std::array<std::ptrdiff_t, 3>& o, std::size_t n) {
    const A* x = a + o[0];
    const B* y = b + o[1];
    R* z = r + o[2];
    if (sa == 1 && sb == 1) {
      for (std::size_t i = 0; i < n; ++i) z[i] = f(x[i], y[i]);
    } else if (sa == 1 && sb == 0) {
      const B y0 = y[0];
      for (std::size_t i = 0; i < n; ++i) z[i] = f(x[i], y0);
    } else if (sa == 0 && sb == 1) {
      const A x0 = x[0];
      for (std::size_t i = 0; i < n; ++i) z[i] = f(x0, y[i]);
    } else {
      for (std::size_t i = 0; i < n; ++i)
        z[i] = f(x[static_cast<std::ptrdiff_t>(i) * sa], y[static_cast<std::ptrdiff_t>(i) * sb]);
    }
  });
}

}  // namespace tg::detail
