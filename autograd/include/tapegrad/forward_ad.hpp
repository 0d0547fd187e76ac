/// \file
/// Forward-mode automatic differentiation with dual tensors, as torch.autograd.forward_ad.
///
/// \code{.cpp}
///   {
///     tg::forward_ad::DualLevel level;                       // tangents live while it does
///     tg::Tensor x = tg::forward_ad::make_dual(x0, v);       // primal x0, tangent v
///     tg::Tensor y = f(x);
///     tg::Tensor jv = tg::forward_ad::unpack_dual(y).tangent;  // J_f(x0) v, one pass, no tape
///   }
/// \endcode
///
/// Invariants
/// - Every differentiable op has a JVP rule beside its forward and backward (record() in the
///   library's tape.hpp). When a level is active and an input of an op has a tangent, the op runs
///   its rule on the primals and the input tangents (an input without one has tangent zero) and
///   attaches the result to its output. A tangent reaching an op without a rule raises tg::Error
///   ("forward AD: <op> has no JVP rule"); it is never dropped.
/// - JVP rules are written in tapegrad ops and run with tangent propagation suspended (on their
///   thread), but recording as usual: a rule is recorded on the tape when grad mode is on and a
///   primal or tangent requires grad, so tangents can be differentiated (reverse over forward).
///   The backward formulas are tapegrad ops too, and the tensors they read carry their tangents,
///   so a backward pass run inside a level computes the tangent of the gradient: forward over
///   reverse, i.e. Hessian-vector products (grad mode is irrelevant to tangents, as in PyTorch).
/// - One level at a time in the process, as PyTorch (whose nested levels are unimplemented): a
///   second DualLevel while one is alive raises tg::Error. The level is process-wide, so an op
///   on any thread propagates tangents (the engine and user threads alike).
/// - A tensor holds at most one tangent, tagged with the id of the level that set it; ids are
///   never reused. Tangents live until their level ends: the level keeps a registry of the
///   tensors it gave a tangent (as PyTorch's ForwardADLevel) and clears their tangents on exit,
///   so a tensor kept after the level has none (unpack_dual gives an undefined tangent), nothing
///   leaks into a later level, and a cycle through a tangent is broken then. (Such cycles arise
///   when grad mode is on and a tangent is recorded: an op whose node keeps its output, e.g. exp,
///   has an output holding a tangent whose graph leads back to that node.) A tensor destroyed
///   while it holds a tangent leaves the registry; tensors may be destroyed on any thread while
///   the level exits.
/// - Tensors never alias (tensor.hpp): make_dual returns a copy of the primal that stays in the
///   graph (gradients flow back to the primal) and carries the tangent; the primal itself is
///   unchanged. The tangent is held as given (not copied): write to it in place and the dual's
///   tangent changes, as in PyTorch.
/// - A tangent is tied to its tensor's version: writing a dual tensor in place after its tangent
///   was set makes any later use of the tangent raise tg::Error (it would be stale).
/// - detach() drops the tangent (as PyTorch's detach); the gradient backward() stores in a
///   leaf's grad() keeps the tangent it was computed with (until the level ends).
/// - With no level active, an op pays one relaxed atomic load (the level) and nothing else, and
///   destroying a tensor one plain load (its tangent's level); the registry's lock is taken
///   only by tensors that get or hold a tangent, and by the level's exit.
#pragma once

#include <cstdint>

#include "tapegrad/tensor.hpp"

namespace tg::forward_ad {

/// Makes tangents live while alive (like `with torch.autograd.forward_ad.dual_level()`). At most
/// one in the process at a time.
class DualLevel {
 public:
  /// Starts the level; tg::Error when one is already alive.
  DualLevel();
  /// Ends the level: every tangent it set is cleared (released here, on this thread).
  ~DualLevel();
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;
  /// This level's id (never reused).
  std::uint64_t id() const { return id_; }

 private:
  std::uint64_t id_;
};

/// True while a DualLevel is alive.
bool is_active();

/// A dual tensor: a copy of `primal` (in the graph: gradients reach primal) whose tangent is
/// `tangent` at the current level. Needs an active level; tangent must be a defined tensor of the
/// primal's dtype (float32 or float64) and shape, without a tangent of its own.
Tensor make_dual(const Tensor& primal, const Tensor& tangent);

/// What unpack_dual returns: a dual tensor's primal and tangent.
struct UnpackedDual {
  Tensor primal;   ///< a copy of the tensor's values without the tangent (in the graph)
  Tensor tangent;  ///< the tangent at the current level, or undefined (zero / no level)
};
/// The primal and tangent of t (torch.autograd.forward_ad.unpack_dual).
UnpackedDual unpack_dual(const Tensor& t);

namespace detail {
/// Suspends tangent propagation on this thread while alive: JVP rules run under it, and so do
/// the internal forwards of ops that compute their output with other ops (a custom Function's
/// forward), whose own rule gives the output's tangent.
class SuspendGuard {
 public:
  SuspendGuard();   ///< suspends propagation on this thread
  ~SuspendGuard();  ///< resumes it (when no other guard is alive)
  SuspendGuard(const SuspendGuard&) = delete;
  SuspendGuard& operator=(const SuspendGuard&) = delete;
};
}  // namespace detail

}  // namespace tg::forward_ad
