/// \file
/// Learning-rate schedulers, as torch.optim.lr_scheduler: they set the lr of every parameter
/// group of an optimizer once per epoch (call step() after the epoch's optimizer steps).
///
/// Semantics (PyTorch's, for the same numbers to the last digit):
/// - The first scheduler attached to an optimizer records each group's lr as its initial_lr;
///   base_lrs are the initial_lrs. Construction performs step 0 (e.g. LinearLR multiplies the lr
///   by start_factor at once); each step() then advances last_epoch by one and updates the lrs.
/// - Updates are "chainable": each scheduler moves the group's *current* lr by its own factor,
///   so several schedulers on one optimizer compose by multiplication (ChainedScheduler steps
///   them together), and SequentialLR hands over from one to the next at given epochs (e.g. a
///   linear warm-up, then cosine annealing).
/// - A scheduler keeps a reference to its optimizer, which must outlive it. state_dict() holds
///   last_epoch and the lrs, to be saved next to the optimizer's. To resume exactly, build the
///   optimizer and its schedulers as in the original run, then load both state dicts (the
///   optimizer's carries the current lrs).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/optim/optimizer.hpp"

namespace tg::optim {

/// Base of the epoch-driven schedulers.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  /// Not copyable (a scheduler drives one optimizer).
  ///@{
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;
  ///@}

  /// Advances one epoch and sets every group's lr.
  virtual void step();
  /// The lrs set by the last step (one per group).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// The groups' initial_lrs (one per group).
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// Epochs stepped so far: 0 after construction, +1 per step().
  std::int64_t last_epoch() const { return last_epoch_; }

  /// "last_epoch" (int64), "base_lrs" and "last_lr" (float64, one per group).
  virtual StateDict state_dict() const;
  /// Restores what state_dict() saved (the groups' lrs come from the optimizer's state dict).
  virtual void load_state_dict(const StateDict& dict);

 protected:
  /// Records base_lrs (setting each group's initial_lr the first time); derived constructors
  /// then call initial_step().
  LRScheduler(Optimizer& optimizer, const char* name);
  /// Performs step 0.
  void initial_step() { step(); }
  /// New lrs for last_epoch_ from the groups' current lrs (PyTorch's chainable get_lr()).
  virtual std::vector<double> get_lr() const = 0;
  /// The lrs at `epoch` from base_lrs alone (PyTorch's _get_closed_form_lr).
  virtual std::vector<double> closed_form_lr(std::int64_t epoch) const = 0;
  /// Every group's lr now.
  std::vector<double> current_lrs() const;
  /// Sets every group's lr (one value per group) and last_lr_.
  void set_lrs(const std::vector<double>& lrs);

  Optimizer& optimizer_;          ///< the optimizer whose lrs are set
  std::string name_;              ///< "StepLR", ...: used in error messages
  std::vector<double> base_lrs_;  ///< the groups' initial_lrs
  std::int64_t last_epoch_ = -1;  ///< -1 before step 0
  std::vector<double> last_lr_;   ///< the lrs set by the last step

  friend class SequentialLR;
};

/// lr = base_lr * gamma^(epoch / step_size) (integer division): decays every step_size epochs.
class StepLR : public LRScheduler {
 public:
  /// step_size >= 1; gamma defaults to 0.1.
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() const override;
  std::vector<double> closed_form_lr(std::int64_t epoch) const override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

/// lr = base_lr * gamma^(number of milestones <= epoch); a milestone listed twice counts twice.
class MultiStepLR : public LRScheduler {
 public:
  /// milestones: epochs, in any order; gamma defaults to 0.1.
  MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() const override;
  std::vector<double> closed_form_lr(std::int64_t epoch) const override;

 private:
  std::vector<std::int64_t> milestones_;  // sorted
  double gamma_;
};

/// lr = base_lr * gamma^epoch.
class ExponentialLR : public LRScheduler {
 public:
  /// gamma: the factor per epoch.
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr() const override;
  std::vector<double> closed_form_lr(std::int64_t epoch) const override;

 private:
  double gamma_;
};

/// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2 (SGDR without
/// restarts): from base_lr at epoch 0 down to eta_min at T_max, and back up after, with period
/// 2 T_max as in PyTorch. Computed by PyTorch's recursive form, which agrees with this one.
class CosineAnnealingLR : public LRScheduler {
 public:
  /// T_max >= 1 epochs to reach eta_min (default 0).
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0);

 protected:
  std::vector<double> get_lr() const override;
  std::vector<double> closed_form_lr(std::int64_t epoch) const override;

 private:
  std::int64_t T_max_;
  double eta_min_;
};

/// Linear warm-up (or decay): lr = base_lr * f(epoch), f going linearly from start_factor at
/// epoch 0 to end_factor at epoch total_iters and staying there. A warm-up over 5 epochs:
/// LinearLR(opt, 0.1, 1.0, 5). Factors must lie in (0, 1] for start and [0, 1] for end.
class LinearLR : public LRScheduler {
 public:
  /// Defaults as PyTorch: start_factor 1/3, end_factor 1, total_iters 5 (>= 1).
  explicit LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           std::int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() const override;
  std::vector<double> closed_form_lr(std::int64_t epoch) const override;

 private:
  double start_factor_, end_factor_;
  std::int64_t total_iters_;
};

/// Steps several schedulers of one optimizer together, so their factors multiply (e.g. a
/// warm-up and an exponential decay at the same time).
class ChainedScheduler {
 public:
  /// At least one scheduler, none null.
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  /// Steps every scheduler, in order.
  void step();
  /// The lrs after the last scheduler's step.
  const std::vector<double>& get_last_lr() const;
  /// Each scheduler's state under "schedulers.<k>.".
  StateDict state_dict() const;
  /// Restores what state_dict() saved into each scheduler.
  void load_state_dict(const StateDict& dict);

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

/// Runs schedulers one after another: schedulers[k] drives the lr from epoch milestones[k-1]
/// on, restarting from its own epoch 0 (e.g. a warm-up of 5 epochs, then cosine annealing:
/// SequentialLR(opt, {warmup, cosine}, {5})). The schedulers must belong to `optimizer`.
class SequentialLR : public LRScheduler {
 public:
  /// n >= 1 schedulers and n - 1 increasing milestones.
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  /// Advances one epoch: steps the scheduler in charge, or at a milestone restarts the next one
  /// from its epoch 0.
  void step() override;
  /// "last_epoch" plus each scheduler's state under "schedulers.<k>.".
  StateDict state_dict() const override;
  /// Restores what state_dict() saved.
  void load_state_dict(const StateDict& dict) override;

 protected:
  std::vector<double> get_lr() const override;
  std::vector<double> closed_form_lr(std::int64_t epoch) const override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
};

/// Divides the lr by 1/factor when a metric has stopped improving for more than `patience`
/// epochs, as torch.optim.lr_scheduler.ReduceLROnPlateau. Call step(metric) once per epoch.
/// An improvement is, for mode "min": metric < best * (1 - threshold) (threshold_mode "rel") or
/// metric < best - threshold ("abs"); mirrored for mode "max". After a reduction, `cooldown`
/// epochs pass before bad epochs count again. lr = max(lr * factor, min_lr), applied only when
/// it changes the lr by more than eps.
class ReduceLROnPlateau {
 public:
  /// The settings, with PyTorch's defaults.
  struct Options {
    std::string mode = "min";            ///< "min" (lower metric is better) or "max"
    double factor = 0.1;                 ///< lr multiplier on a plateau, < 1
    std::int64_t patience = 10;          ///< bad epochs tolerated before reducing
    double threshold = 1e-4;             ///< least change that counts as an improvement
    std::string threshold_mode = "rel";  ///< "rel" (relative to best) or "abs"
    std::int64_t cooldown = 0;           ///< epochs after a reduction before bad epochs count
    std::vector<double> min_lr = {0.0};  ///< lower bound of the lr: one value for all groups, or one per group
    double eps = 1e-8;                   ///< smallest lr change applied
  };
  /// Checks the options (tg::Error naming a bad one).
  ///@{
  explicit ReduceLROnPlateau(Optimizer& optimizer, Options options);
  explicit ReduceLROnPlateau(Optimizer& optimizer) : ReduceLROnPlateau(optimizer, Options()) {}
  ///@}

  /// Ends an epoch whose metric (e.g. the validation loss) was `metric`, reducing the lrs on a plateau.
  void step(double metric);
  /// Every group's lr after the last step.
  std::vector<double> get_last_lr() const { return last_lr_; }
  /// The best metric so far.
  double best() const { return best_; }
  /// Epochs without improvement since the best (or the last reduction).
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }

  /// "best", "last_epoch", "num_bad_epochs", "cooldown_counter".
  StateDict state_dict() const;
  /// Restores what state_dict() saved.
  void load_state_dict(const StateDict& dict);

 private:
  bool is_better(double a) const;

  Optimizer& optimizer_;
  Options options_;
  std::vector<double> min_lrs_;
  double best_;
  std::int64_t last_epoch_ = 0, num_bad_epochs_ = 0, cooldown_counter_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace tg::optim
