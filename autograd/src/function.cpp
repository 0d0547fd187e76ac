// The non-template part of custom Functions (function.hpp): what apply() records.
#include "tapegrad/function.hpp"

#include <string>
#include <utility>

#include "tape.hpp"

namespace tg::detail {

Tensor record_function(const char* name, std::shared_ptr<FunctionContext> ctx, Tensor out, std::vector<Tensor> inputs,
                       FunctionBackward backward, FunctionJvp jvp) {
  if (!out.defined()) fail(name, ": forward returned an undefined tensor");
  // A saved output would keep its own node alive; keep the slot and hand the output back later.
  for (std::size_t k = 0; k < ctx->saved_.size(); ++k)
    if (ctx->saved_[k].is_same(out)) {
      ctx->saved_[k] = Tensor();
      ctx->saved_output_slots_.push_back(k);
    }
  for (const Tensor& t : ctx->saved_) ctx->saved_versions_.push_back(t.defined() ? t.version() : 0);
  for (const Tensor& t : inputs) ctx->input_shapes_.push_back(t.defined() ? t.shape() : Shape{});
  for (const Tensor& t : inputs)
    if (t.is_same(out)) out = out.detach();
  const Save saves = ctx->saved_output_slots_.empty() ? kSaveNone : kSaveOutput;
  const std::shared_ptr<FunctionContext> jvp_ctx = ctx;  // the backward closure takes ctx
  auto jvp_rule = [&](const JvpContext& c) -> Tensor {
    if (!jvp) fail("forward AD: ", name, " has no JVP rule (give the Function a static jvp(ctx, tangents))");
    FunctionContext local = *jvp_ctx;
    local.output_ = c.output();
    for (auto k : local.saved_output_slots_) local.saved_[k] = local.output_;
    std::vector<Tensor> tangents;
    for (std::size_t i = 0; i < c.num_inputs(); ++i)
      tangents.push_back(c.input(i).defined() && c.input(i).is_floating_point() ? c.tangent_or_zeros(i) : Tensor());
    Tensor t = jvp(local, tangents);
    if (t.defined() && (t.dtype() != c.output().dtype() || t.shape() != c.output().shape()))
      fail(name, " jvp: returned a tangent ", to_string(t.dtype()), to_string(t.shape()), " for an output ",
           to_string(c.output().dtype()), to_string(c.output().shape()));
    return t;
  };
  return record(
      name, std::move(out), inputs, saves,
      [name, ctx = std::move(ctx), backward = std::move(backward)](BackwardContext& c) {
        // A local copy of the context: a nested or concurrent backward of this node gets its own.
        FunctionContext local = *ctx;
        for (std::size_t k = 0; k < local.saved_.size(); ++k)
          if (local.saved_[k].defined())
            check_saved_version(name, "saved tensor " + std::to_string(k), local.saved_[k], local.saved_versions_[k]);
        if (!local.saved_output_slots_.empty()) {
          local.output_ = c.output();
          for (auto k : local.saved_output_slots_) local.saved_[k] = local.output_;
        }
        local.needs_.assign(c.num_inputs(), false);
        for (std::size_t i = 0; i < c.num_inputs(); ++i) local.needs_[i] = c.needs_grad(i);
        std::vector<Tensor> grads = backward(local, c.grad());
        if (grads.size() != c.num_inputs())
          fail(name, " backward: returned ", grads.size(), " gradients for ", c.num_inputs(), " tensor inputs");
        for (std::size_t i = 0; i < grads.size(); ++i) {
          if (!grads[i].defined()) continue;
          if (grads[i].shape() != local.input_shapes_[i])
            fail(name, " backward: gradient ", i, " has shape ", to_string(grads[i].shape()),
                 " but the input has shape ", to_string(local.input_shapes_[i]));
          c.set_grad(i, std::move(grads[i]));
        }
      },
      jvp_rule);
}

}  // namespace tg::detail
