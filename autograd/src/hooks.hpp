// Hooks registered on a tensor: called with its gradient (may replace it), or after a leaf's
// grad() has been accumulated. Private to the engine; users see Tensor::register_hook.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "tapegrad/callback.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::detail {

/// Post-accumulate hooks registered and not removed, in the whole process. While there are none,
/// backward() needs no discovery pass (autograd.cpp): it learns when each leaf's gradient is
/// complete only at the end of the sweep, which only such a hook could observe.
extern std::atomic<long> g_post_accumulate_hooks;

struct HookList {
  HookList() = default;
  HookList(const HookList&) = delete;
  HookList& operator=(const HookList&) = delete;
  ~HookList() { g_post_accumulate_hooks.fetch_sub(static_cast<long>(after_accumulate.size())); }
  std::mutex mutex;
  std::uint64_t next_id = 1;
  std::vector<std::pair<std::uint64_t, Callback<Tensor(const Tensor&)>>> on_grad;
  std::vector<std::pair<std::uint64_t, Callback<void(const Tensor&)>>> after_accumulate;

  /// Runs the gradient hooks in order; each defined result replaces the gradient.
  Tensor run_on_grad(Tensor grad);
  /// Runs the post-accumulate hooks with the leaf.
  void run_after_accumulate(const Tensor& leaf);
  bool has_after_accumulate();
};

}  // namespace tg::detail
