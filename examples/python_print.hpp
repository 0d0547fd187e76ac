// Printing numbers the way Python and NumPy do, so example output can be compared with the
// NumPy programs the examples are ported from.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include "tapegrad/xtensor.hpp"

namespace examples {

/// x as Python's str(float) / repr(float) prints it: the shortest digits that read back as x,
/// in scientific notation when the decimal exponent is < -4 or >= 16 ("1e-05", "0.0001",
/// "1e+16", "1234567890123456.0"), with ".0" on integral values, and "nan", "inf", "-inf".
inline std::string python_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, e.g. "-1.2345e-05" or "0e+00"; Python's repr uses the same digits.
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string text(buf, result.ptr);
  const bool negative = text[0] == '-';
  if (negative) text.erase(0, 1);
  const std::size_t e = text.find('e');
  std::string digits = text.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::atoi(text.c_str() + e + 1);

  std::string out;
  if (exponent < -4 || exponent >= 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    const std::string magnitude = std::to_string(std::abs(exponent));
    out += std::string(exponent < 0 ? "e-" : "e+") + (magnitude.size() < 2 ? "0" : "") + magnitude;
  } else if (exponent < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  } else {
    const std::size_t integer_digits = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= integer_digits)
      out = digits + std::string(integer_digits - digits.size(), '0') + ".0";
    else
      out = digits.substr(0, integer_digits) + "." + digits.substr(integer_digits);
  }
  return negative ? "-" + out : out;
}

/// A 2-D array roughly as NumPy's str() prints it: elements with at most 8 decimals and no
/// trailing zeros, aligned on the decimal point (or all in %e style with a common precision when
/// the nonzero magnitudes reach below 1e-4 or to 1e8, or span more than a factor 1000), rows
/// wrapped at 75 characters.
/// (NumPy's default "maxprec" style; close, but not promised digit-for-digit.)
inline std::string numpy_str(const xt::xarray<double>& matrix) {
  const std::size_t rows = matrix.shape(0), cols = matrix.shape(1);
  auto format = [](const char* style, int precision, double v) {
    char buf[512];
    std::snprintf(buf, sizeof buf, style, precision, v);
    return std::string(buf);
  };
  auto strip_zeros = [](std::string digits) {  // "1.50000000" -> "1.5", "2.00000000" -> "2."
    return digits.erase(digits.find_last_not_of('0') + 1);
  };
  double smallest = INFINITY, largest = 0;  // over nonzero magnitudes
  for (double v : matrix) {
    if (v != 0) smallest = std::min(smallest, std::abs(v));
    largest = std::max(largest, std::abs(v));
  }
  const bool scientific = largest >= 1e8 || smallest < 1e-4 || largest / smallest > 1000;

  std::vector<std::string> words;
  if (scientific) {  // one precision for all: the most any element needs, at most 8
    std::size_t precision = 0;
    for (double v : matrix) {
      const std::string text = format("%#.*e", 8, v);
      const std::string mantissa = strip_zeros(text.substr(0, text.find('e')));
      precision = std::max(precision, mantissa.size() - mantissa.find('.') - 1);
    }
    for (double v : matrix) words.push_back(format("%#.*e", static_cast<int>(precision), v));  // "5.e-01"
  } else {  // each element its own decimals, padded to align the points
    std::vector<std::string> integer_parts, fraction_parts;
    std::size_t integer_width = 0, fraction_width = 0;
    for (double v : matrix) {
      const std::string text = strip_zeros(format("%.*f", 8, v));
      integer_parts.push_back(text.substr(0, text.find('.')));
      fraction_parts.push_back(text.substr(text.find('.') + 1));
      integer_width = std::max(integer_width, integer_parts.back().size());
      fraction_width = std::max(fraction_width, fraction_parts.back().size());
    }
    for (std::size_t i = 0; i < integer_parts.size(); ++i)
      words.push_back(std::string(integer_width - integer_parts[i].size(), ' ') + integer_parts[i] +
                      "." + fraction_parts[i] +
                      std::string(fraction_width - fraction_parts[i].size(), ' '));
  }
  std::size_t width = 0;
  for (const auto& w : words) width = std::max(width, w.size());

  // NumPy measures every row as " [" + words and wraps before a word that would pass column 74.
  std::string out;
  for (std::size_t r = 0; r < rows; ++r) {
    std::string line = r == 0 ? "[[" : " [";
    for (std::size_t c = 0; c < cols; ++c) {
      std::string word = words[r * cols + c];
      word.insert(0, width - word.size(), ' ');
      if (c > 0 && line.size() + 1 + word.size() > 74) {
        out += line.erase(line.find_last_not_of(' ') + 1) + "\n";
        line = "  " + word;
      } else {
        line += (c > 0 ? " " : "") + word;
      }
    }
    out += line + (r + 1 < rows ? "]\n" : "]]");
  }
  return out;
}

}  // namespace examples
