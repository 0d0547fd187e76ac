// Checked size arithmetic (checked.hpp): the failure paths, kept out of line.
#include "checked.hpp"

#include <cmath>

namespace tg::detail {

std::size_t checked_mul(const char* op, const char* what, std::size_t a, std::size_t b) {
  std::size_t out;
  if (!mul_fits(a, b, out)) fail(op, ": ", what, " ", a, " * ", b, " overflows");
  return out;
}

std::size_t checked_add(const char* op, const char* what, std::size_t a, std::size_t b) {
  std::size_t out;
  if (!add_fits(a, b, out)) fail(op, ": ", what, " ", a, " + ", b, " overflows");
  return out;
}

void fail_too_large(const char* op, const Shape& shape, std::size_t elem_size) {
  fail(op, ": shape ", to_string(shape), " of ", elem_size, "-byte elements needs more than ",
       kMaxAllocBytes, " bytes, more than can be allocated");
}

void fail_alloc(const char* op, std::size_t bytes, const Shape& shape) {
  fail(op, " needs ", bytes, " bytes for shape ", to_string(shape), ", which could not be allocated");
}

std::size_t checked_count(const char* op, const char* what, double v) {
  if (std::isnan(v)) fail(op, ": ", what, " ", v, " is not a representable size");
  if (v <= 0) return 0;
  if (!(v <= static_cast<double>(kMaxAllocBytes)))
    fail(op, ": ", what, " ", v, " is not a representable size (more than ", kMaxAllocBytes, ")");
  return static_cast<std::size_t>(v);
}

std::int64_t checked_int64(const char* op, const char* what, double v) {
  // 0x1p63 is exactly representable; [-2^63, 2^63) is the int64 range.
  if (!(v >= -0x1p63 && v < 0x1p63) || v != std::floor(v))
    fail(op, ": ", what, " ", v, " is not an integer in the int64 range");
  return static_cast<std::int64_t>(v);
}

}  // namespace tg::detail
