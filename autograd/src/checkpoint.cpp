// Activation checkpointing (checkpoint.hpp): one recorded node whose backward runs the
// checkpointed function again with grad mode on and differentiates it.
#include "tapegrad/checkpoint.hpp"

#include <memory>
#include <set>
#include <string>
#include <utility>

#include "kernels.hpp"
#include "tape.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/grad_mode.hpp"
#include "tapegrad/ops/shape.hpp"
#include "tapegrad/random.hpp"

namespace tg {

namespace {

/// Makes `state` the calling thread's default generator while alive, then puts the thread's own back.
class GeneratorSwap {
 public:
  explicit GeneratorSwap(const Generator* state) : active_(state != nullptr) {
    if (!active_) return;
    own_ = default_generator();
    default_generator() = *state;
  }
  ~GeneratorSwap() {
    if (active_) default_generator() = own_;
  }
  GeneratorSwap(const GeneratorSwap&) = delete;
  GeneratorSwap& operator=(const GeneratorSwap&) = delete;

 private:
  bool active_;
  Generator own_;
};

/// What the node keeps: fn, handles on its inputs (node order: inputs, then parameters) with
/// their versions, the random stream as the forward found it, and the outputs' layout.
struct CheckpointState {
  CheckpointFunction fn;
  std::vector<Tensor> args;    // the node's inputs: inputs, then parameters
  std::size_t num_inputs = 0;  // how many of args are fn's inputs
  std::vector<std::uint32_t> versions;
  std::unique_ptr<Generator> rng;  // null without preserve_rng_state
  std::vector<Shape> shapes;       // the floating outputs' shapes (packed when several)
  DType dtype = DType::float32;
};

/// Raises tg::Error when the graph of `outs` reads a tensor that requires grad other than
/// `known` (whose gradient a grad() over `known` would silently leave out). Stops at known
/// tensors; walks without recursion.
void check_reads_only(const std::vector<Tensor>& outs, const std::vector<Tensor>& known) {
  std::set<const detail::TensorImpl*> ok;
  std::set<const Node*> boundary, seen;
  for (const Tensor& t : known) {
    ok.insert(t.impl());
    if (t.impl()->grad_fn) boundary.insert(t.impl()->grad_fn);
  }
  auto unknown = [](const Tensor& t) {
    fail(
        "checkpoint: the function reads a tensor that requires grad but is neither an input nor in the "
        "parameters option (",
        t.name().empty() ? "unnamed" : "'" + t.name() + "'", ", shape ", to_string(t.shape()),
        "); its gradient would be lost, so pass it in CheckpointOptions().parameters(...) or as an input");
  };
  std::vector<const Node*> stack;
  for (const Tensor& y : outs) {
    if (!y.requires_grad() || ok.count(y.impl())) continue;
    const Node* n = y.impl()->grad_fn;
    if (!n) unknown(y);
    if (!boundary.count(n) && seen.insert(n).second) stack.push_back(n);
  }
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    for (std::size_t k = 0; k < n->num_inputs; ++k) {
      const Node::Input& in = n->input(k);
      if (const Node* p = in.producer.get()) {
        if (!boundary.count(p) && seen.insert(p).second) stack.push_back(p);
      } else if (in.leaf.defined() && in.leaf.requires_grad() && !ok.count(in.leaf.impl())) {
        unknown(in.leaf);
      }
    }
  }
}

/// The node's backward: recompute, then differentiate the recomputed graph.
void checkpoint_backward(const CheckpointState& s, BackwardContext& c) {
  for (std::size_t i = 0; i < s.args.size(); ++i)
    detail::check_saved_version(
        "checkpoint", i < s.num_inputs ? "input " + std::to_string(i) : "parameter " + std::to_string(i - s.num_inputs),
        s.args[i], s.versions[i]);
  // Grad mode is on here exactly when the outer sweep has create_graph.
  const bool create_graph = is_grad_enabled();
  std::vector<Tensor> wrt = s.args;
  std::vector<Tensor> outs;
  {
    EnableGradGuard on;
    std::vector<Tensor> in(wrt.begin(), wrt.begin() + static_cast<std::ptrdiff_t>(s.num_inputs));
    // First order: fresh leaves, so the recomputed graph stops at them. create_graph: the inputs
    // themselves, so the gradients depend on them (and on whatever made them) for higher order.
    if (!create_graph)
      for (std::size_t i = 0; i < in.size(); ++i)
        if (in[i].requires_grad()) wrt[i] = in[i] = in[i].detach().requires_grad_(true);
    GeneratorSwap swap(s.rng.get());
    outs = s.fn(in);
  }
  std::vector<Tensor> floating;
  for (const Tensor& y : outs)
    if (y.defined() && y.is_floating_point()) floating.push_back(y);
  if (floating.size() != s.shapes.size())
    fail("checkpoint: the recomputation returned ", floating.size(), " floating outputs but the forward returned ",
         s.shapes.size(), " (the function must compute the same outputs again)");
  for (std::size_t k = 0; k < floating.size(); ++k)
    if (floating[k].shape() != s.shapes[k])
      fail("checkpoint: recomputed output ", k, " has shape ", to_string(floating[k].shape()),
           " but the forward's had ", to_string(s.shapes[k]));
  // Upstream gradient of each output: the node's own, or its pieces when outputs were packed.
  std::vector<Tensor> roots, upstream;
  std::int64_t offset = 0;
  for (std::size_t k = 0; k < floating.size(); ++k) {
    const auto n = static_cast<std::int64_t>(floating[k].numel());
    if (floating[k].requires_grad()) {
      roots.push_back(floating[k]);
      upstream.push_back(floating.size() == 1
                             ? c.grad()
                             : reshape(slice(c.grad(), 0, offset, offset + n), detail::as_i64(s.shapes[k])));
    }
    offset += n;
  }
  if (roots.empty()) return;
  std::vector<Tensor> known;
  for (const Tensor& t : wrt)
    if (t.requires_grad()) known.push_back(t);
  check_reads_only(roots, known);
  std::vector<Tensor> targets;
  std::vector<std::size_t> slots;
  for (std::size_t i = 0; i < wrt.size(); ++i)
    if (c.needs_grad(i) && wrt[i].requires_grad()) {
      targets.push_back(wrt[i]);
      slots.push_back(i);
    }
  if (targets.empty()) return;
  std::vector<Tensor> g = grad(roots, targets, upstream, create_graph, create_graph, true);
  for (std::size_t k = 0; k < g.size(); ++k) c.set_grad(slots[k], std::move(g[k]));
}

}  // namespace

std::vector<Tensor> checkpoint(const CheckpointFunction& fn, const std::vector<Tensor>& inputs,
                               const CheckpointOptions& options) {
  auto state = std::make_shared<CheckpointState>();
  state->fn = fn;
  state->num_inputs = inputs.size();
  state->args = inputs;
  state->args.insert(state->args.end(), options.parameters().begin(), options.parameters().end());
  bool any = false;
  for (std::size_t i = 0; i < state->args.size(); ++i) {
    if (!state->args[i].defined())
      fail("checkpoint: ", i < inputs.size() ? "input " : "parameter ", i < inputs.size() ? i : i - inputs.size(),
           " is undefined");
    any = any || state->args[i].requires_grad();
  }
  if (!any || !is_grad_enabled()) return fn(inputs);

  if (options.preserve_rng_state()) state->rng = std::make_unique<Generator>(default_generator());
  std::vector<Tensor> outs;
  {
    NoGradGuard no_grad;
    outs = fn(inputs);
  }
  std::vector<std::size_t> floating;
  for (std::size_t k = 0; k < outs.size(); ++k) {
    if (!outs[k].defined()) fail("checkpoint: the function returned an undefined tensor as output ", k);
    if (!outs[k].is_floating_point()) continue;
    if (!floating.empty() && outs[k].dtype() != state->dtype)
      fail("checkpoint: outputs ", floating.front(), " and ", k, " are ", to_string(state->dtype), " and ",
           to_string(outs[k].dtype()), "; several outputs must share one floating dtype");
    state->dtype = outs[k].dtype();
    state->shapes.push_back(outs[k].shape());
    floating.push_back(k);
  }
  if (floating.empty()) return outs;
  for (const Tensor& t : state->args) state->versions.push_back(t.version());

  // One recorded tensor: the output itself, or the floating outputs flattened end to end.
  Tensor recorded;
  if (floating.size() == 1) {
    recorded = outs[floating[0]];
    for (const Tensor& t : state->args)
      if (t.is_same(recorded)) recorded = recorded.detach();  // a node's output is a fresh tensor
  } else {
    NoGradGuard no_grad;
    std::vector<Tensor> flat;
    flat.reserve(floating.size());
    for (std::size_t k : floating) flat.push_back(reshape(outs[k], {static_cast<std::int64_t>(outs[k].numel())}));
    recorded = cat(flat, 0);
  }
  const std::vector<Tensor> node_inputs = state->args;
  recorded = record("checkpoint", std::move(recorded), node_inputs, kSaveNone,
                    [state = std::move(state)](BackwardContext& c) { checkpoint_backward(*state, c); });
  if (floating.size() == 1) {
    outs[floating[0]] = recorded;
    return outs;
  }
  std::int64_t offset = 0;
  for (std::size_t k : floating) {
    const auto n = static_cast<std::int64_t>(outs[k].numel());
    outs[k] = reshape(slice(recorded, 0, offset, offset + n), detail::as_i64(outs[k].shape()));
    offset += n;
  }
  return outs;
}

Tensor checkpoint(const CheckpointFunction1& fn, const std::vector<Tensor>& inputs, const CheckpointOptions& options) {
  auto outs = checkpoint(
      // By value: the node keeps the function until its backward has run.
      CheckpointFunction([fn](const std::vector<Tensor>& x) { return std::vector<Tensor>{fn(x)}; }), inputs, options);
  return outs[0];
}

}  // namespace tg
