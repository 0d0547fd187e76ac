// Definitions behind OptimizerCloneableOptions (optimizer.hpp), compiled once per options class
// by TG_OPTIM_DEFINE_OPTIONS in the optimizer's .cpp instead of in every file that includes it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

namespace detail {
/// The largest step count a state dict may hold: counts are used as doubles in the bias
/// corrections (exact up to 2^53), and the next step's ++ must not overflow.
inline constexpr std::int64_t kMaxLoadedCount = std::int64_t(1) << 53;

/// Throws "<optimizer>: load_state_dict: entry '<key>' ..." unless 0 <= count <= kMaxLoadedCount
/// (step = -1 makes Adam's first bias correction 1 - beta^0 = 0 and every parameter NaN).
inline void check_loaded_count(const std::string& optimizer, const std::string& key, std::int64_t count) {
  if (count < 0 || count > kMaxLoadedCount)
    fail(optimizer, ": load_state_dict: entry '", key, "' is ", count, "; a step count must be in [0, ",
         kMaxLoadedCount, "]");
}
/// Throws "<optimizer>: load_state_dict: entry '<key>' holds <v> ..." unless every value of the
/// floating tensor t is finite: a NaN or infinite buffer spreads to the parameters on the next step.
void check_loaded_finite(const std::string& optimizer, const std::string& key, const Tensor& t);
}  // namespace detail

/// A string option restricted to a few values; saved as its index in `allowed`.
struct Choice {
  std::string* value;
  std::vector<std::string> allowed;
};

/// One option of an options object, by name, for state dicts and generic access. Doubles and
/// betas are saved as float64 tensors (betas with shape (2,)), flags as bool, counts as int64.
struct OptionField {
  std::string name;
  std::variant<double*, bool*, std::int64_t*, std::tuple<double, double>*, Choice> value;
};

namespace options_detail {
/// The fields() entry of one option, for TG_OPTIM_DEFINE_OPTIONS. An option of a type
/// OptionField can't hold fails to compile here rather than going unsaved.
template <class Options, class T>
OptionField make_field(const Options*, const char* name, T& value) {
  return {name, &value};
}
/// A string option is saved as the index of its value among Options::choices(name).
template <class Options>
OptionField make_field(const Options*, const char* name, std::string& value) {
  return {name, Choice{&value, Options::choices(name)}};
}
}  // namespace options_detail

template <class Derived>
std::unique_ptr<OptimizerOptions> OptimizerCloneableOptions<Derived>::clone() const {
  return std::make_unique<Derived>(static_cast<const Derived&>(*this));
}
template <class Derived>
double OptimizerCloneableOptions<Derived>::get_lr() const {
  return static_cast<const Derived&>(*this).lr();
}
template <class Derived>
void OptimizerCloneableOptions<Derived>::set_lr(double lr) {
  static_cast<Derived&>(*this).lr(lr);
}

}  // namespace tg::optim
