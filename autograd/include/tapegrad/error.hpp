// tg::Error: the one exception type tapegrad throws for bad input.
//
// Every message starts with the name of the op (or file) that refused the input and names the
// shapes or values involved, e.g. "matmul: shapes (3,4) and (5,2) are not aligned".
#pragma once

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
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
/// Concatenates its arguments with operator<< into a string.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

/// Throws tg::Error with the streamed concatenation of args, e.g. fail("sum: axis ", a, " out of range").
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(detail::cat(args...));
}

}  // namespace tg
