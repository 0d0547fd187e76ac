// The reverse sweep over the tape.
//
// Gradients flow from the roots' nodes towards the start of the tape. A node's adjoint is
// complete when the sweep reaches it, because every consumer of its output was recorded later
// and has already been swept. Gradients for leaves go to grad() (backward) or to the slots that
// grad() asked for (capture); nothing else is touched.
#include "tapegrad/autograd.hpp"

#include "kernels.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/reduce.hpp"
#include "tapegrad/tape.hpp"

namespace tg {
namespace {

void accumulate(Tensor& slot, Tensor g) {
  if (!slot.defined()) slot = std::move(g);
  else slot = slot + g;
}

struct SweepOptions {
  bool retain_graph = false;
  bool create_graph = false;
  bool into_leaf_grads = true;  // backward(): leaves' grad(); grad(): only captured inputs
  const char* caller = "backward";
};

void deliver(detail::TensorImpl* impl, Tensor g, const SweepOptions& opt) {
  if (impl->node) {
    accumulate(impl->node->adjoint, std::move(g));
  } else if (impl->capture) {
    accumulate(*impl->capture, std::move(g));
  } else if (opt.into_leaf_grads && impl->requires_grad) {
    if (!impl->grad.defined()) {
      // Own the stored gradient: g may be shared with another input (add passes grad through).
      impl->grad = (g.impl_ptr().use_count() > 1 && !opt.create_graph) ? g.detach() : std::move(g);
    } else {
      impl->grad = impl->grad + g;
    }
  }
}

Tensor seed_gradient(const char* caller, const Tensor& root, const Tensor* given, std::size_t i) {
  if (given && given->defined()) {
    if (given->shape() != root.shape() || given->dtype() != root.dtype())
      fail(caller, ": gradient for output ", i, " has ", to_string(given->dtype()),
           to_string(given->shape()), " but the output is ", to_string(root.dtype()),
           to_string(root.shape()));
    return *given;
  }
  if (root.numel() != 1)
    fail(caller, ": output ", i, " has shape ", to_string(root.shape()),
         "; a gradient can be implied only for one-element outputs, so pass one explicitly");
  return ones_like(root);
}

void sweep(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads,
           const SweepOptions& opt) {
  if (!root_grads.empty() && root_grads.size() != roots.size())
    fail(opt.caller, ": got ", roots.size(), " outputs but ", root_grads.size(), " gradients");
  Tape& tape = Tape::current();
  std::uint64_t top = 0;
  bool any_node = false;

  std::vector<Tensor> seeds;
  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    detail::require_defined(opt.caller, root);
    if (!root.requires_grad())
      fail(opt.caller, ": output ", i, " (shape ", to_string(root.shape()),
           ") does not require grad and has no grad_fn");
    const Node* node = root.impl()->node;
    if (node && node->tape != &tape)
      fail(opt.caller, ": output ", i, " was recorded on another thread's tape");
    if (node && node->state != Node::State::live)
      fail(opt.caller, ": the graph of '", node->name, "' (output shape ", to_string(root.shape()),
           ") was already freed by an earlier backward; pass retain_graph=true to the first "
           "backward to run backward through it again");
    seeds.push_back(seed_gradient(opt.caller, root, root_grads.empty() ? nullptr : &root_grads[i], i));
  }

  const bool previous_mode = is_grad_enabled();
  set_grad_enabled(opt.create_graph);
  tape.pause_collect();
  std::vector<Node*> swept;
  auto cleanup = [&](bool ok) {
    set_grad_enabled(previous_mode);
    tape.resume_collect();
    if (any_node)
      for (std::uint64_t i = top + 1; i-- > tape.begin_index();) tape.at(i).adjoint = Tensor();
    if (ok && !opt.retain_graph)
      for (Node* n : swept) {
        n->release();
        n->state = Node::State::freed;
      }
  };
  try {
    for (std::size_t i = 0; i < roots.size(); ++i) {
      detail::TensorImpl* impl = roots[i].impl();
      if (impl->node) {
        top = any_node ? std::max(top, impl->node->index) : impl->node->index;
        any_node = true;
      }
      deliver(impl, seeds[i], opt);
    }
    std::vector<Tensor> grads;
    if (any_node) {
      for (std::uint64_t idx = top + 1; idx-- > tape.begin_index();) {
        Node& n = tape.at(idx);
        if (!n.adjoint.defined()) continue;
        if (n.state != Node::State::live)
          fail(opt.caller, ": '", n.name, "' (output shape ", to_string(n.output.shape()),
               ") was already freed by an earlier backward; pass retain_graph=true to the first "
               "backward to run backward through it again");
        if (detail::TensorImpl* out = n.output.impl(); out->capture) accumulate(*out->capture, n.adjoint);
        grads.assign(n.num_inputs(), Tensor());
        BackwardContext ctx(n, grads);
        {
          detail::BackwardScope scope(n.name);
          n.backward(ctx);
        }
        for (std::size_t i = 0; i < grads.size(); ++i) {
          if (!grads[i].defined()) continue;
          const Tensor& in = n.input(i);
          if (!in.requires_grad()) continue;
          Tensor g = std::move(grads[i]);
          if (g.dtype() != in.dtype())
            fail(n.name, " backward: gradient for input ", i, " is ", to_string(g.dtype()),
                 " but the input is ", to_string(in.dtype()));
          if (!detail::same_shape(g, in)) g = sum_to(g, in.shape());
          {
            detail::BackwardScope scope(n.name);
            detail::check_anomaly(n.name, g, "gradient");
          }
          deliver(in.impl(), std::move(g), opt);
        }
        n.adjoint = Tensor();
        swept.push_back(&n);
      }
    }
  } catch (...) {
    cleanup(false);
    throw;
  }
  cleanup(true);
  if (!opt.retain_graph) tape.collect();
}

}  // namespace

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              std::optional<bool> retain_graph, bool create_graph) {
  SweepOptions opt;
  opt.create_graph = create_graph;
  opt.retain_graph = retain_graph.value_or(create_graph);
  sweep(tensors, grad_tensors, opt);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph,
                         bool create_graph, bool allow_unused) {
  std::vector<Tensor> results(inputs.size());
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    detail::require_defined("grad", inputs[j]);
    if (!inputs[j].requires_grad())
      fail("grad: input ", j, " (shape ", to_string(inputs[j].shape()),
           ") does not require grad, so it has no gradient");
  }
  // Each distinct input gets a slot; a repeated input copies the first one's result afterwards.
  std::vector<std::size_t> first_of(inputs.size());
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    first_of[j] = j;
    for (std::size_t k = 0; k < j; ++k)
      if (inputs[k].is_same(inputs[j])) { first_of[j] = k; break; }
    if (first_of[j] == j) inputs[j].impl()->capture = &results[j];
  }
  auto clear = [&] {
    for (std::size_t j = 0; j < inputs.size(); ++j) inputs[j].impl()->capture = nullptr;
  };
  SweepOptions opt;
  opt.create_graph = create_graph;
  opt.retain_graph = retain_graph.value_or(create_graph);
  opt.into_leaf_grads = false;
  opt.caller = "grad";
  try {
    sweep(outputs, grad_outputs, opt);
  } catch (...) {
    clear();
    throw;
  }
  clear();
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    if (first_of[j] != j) results[j] = results[first_of[j]];
    if (!results[j].defined() && !allow_unused)
      fail("grad: input ", j, " (shape ", to_string(inputs[j].shape()),
           ") is not used to compute the outputs; pass allow_unused=true to get an undefined "
           "gradient for it");
  }
  return results;
}

}  // namespace tg
