// The engine's side of a tensor (private to the library; tensor.hpp holds the public handle).
//
// Ownership (see tape.hpp for the node side):
// - `handles` counts Tensor handles. While it is above zero the impl owns one reference to
//   grad_fn. When it drops to zero the impl is freed, unless grad_fn saved this impl as its
//   output for backward: then the node keeps the impl (values and all) and frees it when the
//   node goes or releases its saved state; backward may hand out handles to it again.
// - `version` counts in-place writes.
// - `tangent` is the forward-mode tangent, valid only at level `tangent_level` (forward_ad.hpp).
//   Tangents live until their level ends: a tensor given one is registered with the level, which
//   clears it on exit (a cycle through a tangent, e.g. an output its node keeps whose tangent was
//   recorded from that node, is broken then); ~TensorImpl deregisters a tensor still holding one.
// - `value` holds the array; the head's dtype and array pointer describe it, so public inline
//   code (value<T>(), dtype()) reads them without knowing this struct. Replace the array only
//   through set_value(), which keeps the two in step.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "tapegrad/tensor.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg {
struct Node;
namespace detail {

using Value = std::variant<xt::xarray<float>, xt::xarray<double>, xt::xarray<std::int64_t>,
                           xt::xarray<bool>>;

struct TensorImpl : TensorHead {
  Value value;
  Tensor grad;            // accumulated gradient (leaves)
  Node* grad_fn = nullptr;
  bool requires_grad = false;
  std::string name;
  std::shared_ptr<HookList> hooks;     // register_hook / post-accumulate hooks, usually none
  std::atomic<bool> has_hooks{false};  // hooks is set (read without a lock)
  // Forward AD (forward_ad.hpp): the tangent set by level tangent_level (0: none, and then the
  // tensor is not in the level's registry), when the tensor was at version tangent_version.
  // tangent_level is atomic because the level's exit clears it while another thread may be
  // destroying the tensor.
  Tensor tangent;
  std::atomic<std::uint64_t> tangent_level{0};
  std::uint32_t tangent_version = 0;

  explicit TensorImpl(Value v) : value(std::move(v)) { describe(); }
  /// Moves the array straight into the variant: an xarray move swaps its shape and strides
  /// element by element, a noticeable cost for small tensors, so it is done once, not twice.
  template <class T>
  explicit TensorImpl(xt::xarray<T>&& a) : value(std::in_place_type<xt::xarray<T>>, std::move(a)) {
    dtype = dtype_of<T>::value;
    array = std::get_if<xt::xarray<T>>(&value);
  }
  ~TensorImpl();
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;

  void set_value(Value v) {
    recycle_value();
    value = std::move(v);
    describe();
  }

 private:
  /// Offers the array's buffer to the thread's cache (buffer_cache.hpp), leaving it empty.
  void recycle_value() noexcept;
  void describe() {
    dtype = static_cast<DType>(value.index());
    array = std::visit([](auto& a) -> void* { return &a; }, value);
  }
};

}  // namespace detail

inline detail::TensorImpl* Tensor::impl() const { return static_cast<detail::TensorImpl*>(impl_); }

inline Tensor Tensor::adopt(detail::TensorImpl* fresh) noexcept {
  Tensor t;
  t.impl_ = fresh;
  return t;
}

}  // namespace tg
