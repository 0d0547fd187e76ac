/// \file
/// Thread-local switches of the autograd engine: grad mode and anomaly detection.
#pragma once

namespace tg {

/// True when ops record on the tape (the default). Thread-local.
bool is_grad_enabled();
/// Switches recording on or off for the calling thread (the guards below restore it for you).
void set_grad_enabled(bool enabled);

/// Turns recording off for its lifetime (like torch::NoGradGuard); restores the previous mode.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Turns recording on for its lifetime, even inside a NoGradGuard.
class EnableGradGuard {
 public:
  EnableGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(previous_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

/// True while a DetectAnomalyGuard is alive on this thread.
bool is_anomaly_enabled();
/// Switches anomaly detection on or off for the calling thread (see DetectAnomalyGuard).
void set_anomaly_enabled(bool enabled);

/// While alive, every recorded op's output and every gradient computed by backward is checked
/// for NaN/Inf, and the first one raises tg::Error naming the op. Costs one pass per tensor.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : previous_(is_anomaly_enabled()) { set_anomaly_enabled(true); }
  ~DetectAnomalyGuard() { set_anomaly_enabled(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace tg
