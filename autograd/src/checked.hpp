// Private: checked size arithmetic. Every size the library computes from numbers a caller or a
// file supplied (element counts, byte counts, strides, arange/linspace/slice lengths, double ->
// integer casts) goes through these, so a size that wraps around or cannot be allocated raises
// tg::Error naming the op and the shape before anything is allocated, instead of yielding a short
// buffer that later ops overrun.
//
// The rule for shapes is NumPy's: the product of the non-zero extents times the element size must
// fit in kMaxAllocBytes, even when some extent is 0. Then every stride, every partial product of
// extents (outer/inner loops) and every byte count of a valid shape fits in std::size_t and in
// std::ptrdiff_t, so code downstream of a shape check may multiply extents unchecked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tapegrad/error.hpp"

namespace tg::detail {

/// The most bytes one allocation may ask for: std::allocator's max_size for bytes (PTRDIFF_MAX).
inline constexpr std::size_t kMaxAllocBytes = static_cast<std::size_t>(PTRDIFF_MAX);

/// a * b in `out`; false when the product wraps around.
inline bool mul_fits(std::size_t a, std::size_t b, std::size_t& out) { return !__builtin_mul_overflow(a, b, &out); }
/// a + b in `out`; false when the sum wraps around.
inline bool add_fits(std::size_t a, std::size_t b, std::size_t& out) { return !__builtin_add_overflow(a, b, &out); }

/// a * b, or tg::Error "op: what a * b overflows".
std::size_t checked_mul(const char* op, const char* what, std::size_t a, std::size_t b);
/// a + b, or tg::Error "op: what a + b overflows".
std::size_t checked_add(const char* op, const char* what, std::size_t a, std::size_t b);

[[noreturn]] void fail_too_large(const char* op, const Shape& shape, std::size_t elem_size);
[[noreturn]] void fail_alloc(const char* op, std::size_t bytes, const Shape& shape);

/// The element count of `shape` (any container of extents), or tg::Error
/// "op: shape S of E-byte elements needs more than 9223372036854775807 bytes" when it breaks the
/// rule above. One checked multiply per axis: cheap enough for every allocation.
template <class S>
std::size_t checked_numel(const char* op, const S& shape, std::size_t elem_size) {
  std::size_t bytes = elem_size, numel = 1;
  bool empty = false;
  for (auto d : shape) {
    const auto extent = static_cast<std::size_t>(d);
    if (extent == 0) {
      empty = true;
      continue;
    }
    if (!mul_fits(bytes, extent, bytes) || bytes > kMaxAllocBytes)
      fail_too_large(op, Shape(shape.begin(), shape.end()), elem_size);
    numel *= extent;  // <= bytes, cannot wrap
  }
  return empty ? 0 : numel;
}

/// v as a count for `op` (a length computed in floating point, e.g. arange's ceil((stop -
/// start) / step)): negative values give 0; NaN and values beyond kMaxAllocBytes raise
/// tg::Error "op: what v is not a representable size" (C++ leaves such conversions undefined).
std::size_t checked_count(const char* op, const char* what, double v);
/// v as int64 when it is finite, integral and in range, else tg::Error "op: what v ...".
std::int64_t checked_int64(const char* op, const char* what, double v);

}  // namespace tg::detail
