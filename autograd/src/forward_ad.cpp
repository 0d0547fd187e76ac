// Forward mode (forward_ad.hpp): levels, dual tensors, and what record() calls to propagate
// tangents (tape.hpp).
#include "tapegrad/forward_ad.hpp"

#include <atomic>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "kernels.hpp"
#include "tape.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/shape.hpp"

namespace tg {

namespace detail {
std::atomic<std::uint64_t> g_forward_level{0};
}  // namespace detail

namespace {
std::atomic<std::uint64_t> g_last_level_id{0};
thread_local int t_suspended = 0;

/// The level tangents are read and written at on this thread: 0 when none is active or
/// propagation is suspended here.
std::uint64_t current_level() {
  const std::uint64_t level = detail::g_forward_level.load(std::memory_order_acquire);
  return t_suspended ? 0 : level;
}

std::string describe(const Tensor& t) { return to_string(t.dtype()) + to_string(t.shape()); }

/// The tensors holding a tangent of the live level (as PyTorch's ForwardADLevel keeps its
/// tensors): the level's exit clears their tangents, which breaks any reference cycle through a
/// tangent. Guarded by registry_mutex() together with g_forward_level's changes, so a tangent is
/// never attached to a level that has ended. Leaked on purpose: tensors may be destroyed during
/// static destruction.
std::mutex& registry_mutex() {
  static auto* m = new std::mutex;
  return *m;
}
std::unordered_set<detail::TensorImpl*>& registry() {
  static auto* r = new std::unordered_set<detail::TensorImpl*>;
  return *r;
}
}  // namespace

// ---- Levels --------------------------------------------------------------------------------------

namespace forward_ad {

DualLevel::DualLevel() : id_(g_last_level_id.fetch_add(1) + 1) {
  std::uint64_t none = 0;
  if (!tg::detail::g_forward_level.compare_exchange_strong(none, id_))
    fail("forward_ad::DualLevel: a dual level is already active (level ", none,
         "); nested or concurrent levels are not supported");
}

DualLevel::~DualLevel() {
  std::vector<Tensor> tangents;  // dropped after unlocking: that can destroy registered tensors
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    tg::detail::g_forward_level.store(0, std::memory_order_release);
    tangents.reserve(registry().size());
    for (tg::detail::TensorImpl* impl : registry()) {
      tangents.push_back(std::move(impl->tangent));
      // Release: a thread destroying impl reads 0 and then owns the (empty) tangent slot.
      impl->tangent_level.store(0, std::memory_order_release);
    }
    registry().clear();
  }
}

bool is_active() { return tg::detail::forward_ad_possible(); }

detail::SuspendGuard::SuspendGuard() { ++t_suspended; }
detail::SuspendGuard::~SuspendGuard() { --t_suspended; }

Tensor make_dual(const Tensor& primal, const Tensor& tangent) {
  const std::uint64_t level = current_level();
  if (level == 0) fail("forward_ad::make_dual: no dual level is active (create a forward_ad::DualLevel first)");
  tg::detail::require_floating("forward_ad::make_dual", primal);
  if (!tangent.defined()) fail("forward_ad::make_dual: the tangent for primal ", describe(primal), " is undefined");
  if (tangent.dtype() != primal.dtype() || tangent.shape() != primal.shape())
    fail("forward_ad::make_dual: tangent ", describe(tangent), " does not match primal ", describe(primal),
         " (the tangent must have the primal's dtype and shape)");
  if (tg::detail::has_live_tangent(tangent))
    fail("forward_ad::make_dual: the tangent ", describe(tangent),
         " has a tangent of its own at this level (nested forward mode is not supported)");
  Tensor dual;
  {
    detail::SuspendGuard suspend;
    dual = primal.clone();  // in the graph: a gradient of dual reaches primal
  }
  tg::detail::attach_tangent("forward_ad::make_dual", dual, tangent);
  return dual;
}

UnpackedDual unpack_dual(const Tensor& t) {
  tg::detail::require_defined("forward_ad::unpack_dual", t);
  UnpackedDual r;
  r.tangent = tg::detail::live_tangent("forward_ad::unpack_dual", t);
  detail::SuspendGuard suspend;
  r.primal = t.clone();
  return r;
}

}  // namespace forward_ad

// ---- What record() calls -------------------------------------------------------------------------

namespace detail {

bool has_live_tangent(const Tensor& t) {
  const std::uint64_t level = current_level();
  if (level == 0 || !t.defined()) return false;
  const TensorImpl* impl = t.impl();
  return impl->tangent_level.load(std::memory_order_relaxed) == level && impl->tangent.defined();
}

Tensor live_tangent(const char* op, const Tensor& t) {
  if (!has_live_tangent(t)) return Tensor();
  const TensorImpl* impl = t.impl();
  if (t.version() != impl->tangent_version)
    fail("forward AD: ", op, ": a dual input ", describe(t),
         " was modified in place after its tangent was set (version ", t.version(), ", tangent set at version ",
         impl->tangent_version, "), so its tangent is stale; modify a clone() or make the dual again");
  return impl->tangent;
}

void refuse_tangents(const char* op, const Tensor* inputs, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    if (has_live_tangent(inputs[i])) fail("forward AD: ", op, " has no JVP rule");
}

void attach_tangent(const char* op, Tensor& output, Tensor tangent) {
  const std::uint64_t level = g_forward_level.load(std::memory_order_acquire);
  if (!tangent.defined() || level == 0) return;
  if (tangent.dtype() != output.dtype())
    fail("forward AD: the JVP rule of ", op, " gave a tangent ", describe(tangent), " for an output ",
         describe(output));
  if (tangent.shape() != output.shape()) {
    // A rule may leave a broadcast operand's tangent unexpanded (add's tangent of a bias).
    forward_ad::detail::SuspendGuard suspend;
    tangent = expand(tangent, output.shape());
  }
  TensorImpl* impl = output.impl();
  Tensor replaced;  // a tangent set before on this tensor, dropped after unlocking
  std::lock_guard<std::mutex> lock(registry_mutex());
  // The level may have ended since it was read above; its exit cleared every registered tangent.
  if (g_forward_level.load(std::memory_order_relaxed) != level) return;
  if (impl->tangent_level.load(std::memory_order_relaxed) == 0) registry().insert(impl);
  replaced = std::move(impl->tangent);
  impl->tangent = std::move(tangent);
  impl->tangent_level.store(level, std::memory_order_relaxed);
  impl->tangent_version = output.version();
}

void forget_tangent(TensorImpl* impl) noexcept {
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry().erase(impl);
}

Tensor add_tangents(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return a + b;
}

}  // namespace detail

JvpContext::JvpContext(const char* name, const Tensor* inputs, std::size_t count)
    : name_(name), inputs_(inputs), count_(count) {
  if (current_level() == 0) return;
  if (count > kInline) more_.resize(count - kInline);
  for (std::size_t i = 0; i < count; ++i) {
    Tensor t = detail::live_tangent(name, inputs[i]);
    if (!t.defined()) continue;
    any_ = true;
    (i < kInline ? inline_[i] : more_[i - kInline]) = std::move(t);
  }
}

const Tensor& JvpContext::output() const {
  if (!is_grad_enabled()) return output_;  // nothing records: no node can hold the output
  if (!output_copy_.defined()) {
    forward_ad::detail::SuspendGuard suspend;
    output_copy_ = output_.clone();  // its node refers to the output's node, not to the output
  }
  return output_copy_;
}

Tensor JvpContext::tangent_or_zeros(std::size_t i) const {
  if (has_tangent(i)) return tangent(i);
  return zeros_like(input(i));
}

}  // namespace tg
