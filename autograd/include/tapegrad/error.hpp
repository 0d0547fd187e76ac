/// \file
/// tg::Error: the one exception type tapegrad throws for bad input.
///
/// Every message starts with the name of the op (or file) that refused the input and names the
/// shapes or values involved, e.g. "matmul: shapes (3,4) and (5,2) are not aligned".
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace tg {

/// Exception raised for invalid arguments, shape/dtype mismatches and misuse of the tape.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Shape of a tensor: one extent per axis, row-major.
using Shape = std::vector<std::size_t>;

/// "(3,4)" for {3,4}, "()" for a 0-d tensor.
std::string to_string(const Shape& shape);

namespace detail {
// Message formatting without <sstream> (this header is included everywhere): numbers print as
// an std::ostream with default flags prints them (doubles as "%g").
void append_signed(std::string& out, long long v);
void append_unsigned(std::string& out, unsigned long long v);
void append_double(std::string& out, double v);
/// v in lowercase hexadecimal without a prefix ("1f"), for messages about bytes.
std::string hex(unsigned long long v);

template <class T>
void append(std::string& out, const T& v) {
  if constexpr (std::is_same_v<T, char>) out += v;
  else if constexpr (std::is_same_v<T, bool>) out += v ? '1' : '0';
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) append_signed(out, v);
  else if constexpr (std::is_integral_v<T>) append_unsigned(out, v);
  else if constexpr (std::is_floating_point_v<T>) append_double(out, static_cast<double>(v));
  else out += v;  // strings, string literals, string views
}

/// Concatenates its arguments (strings and numbers) into a string.
template <class... Args>
std::string cat(const Args&... args) {
  std::string out;
  (append(out, args), ...);
  return out;
}
}  // namespace detail

/// Throws tg::Error with the streamed concatenation of args, e.g. fail("sum: axis ", a, " out of range").
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(detail::cat(args...));
}

}  // namespace tg
