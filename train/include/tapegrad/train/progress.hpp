/// \file
/// A progress display for training loops.
///
/// On a terminal it is a live bar redrawn in place,
///   epoch 3/10 [=========>          ] 234/469  loss 0.1234  41,200 samples/s  ETA 0:04
/// and erased by finish(), so the caller's summary line takes its place. When the output is not a
/// terminal (CI logs, files, pipes) it prints a plain line at most every `log_interval` seconds
/// instead, and nothing when the loop is shorter than that:
///   epoch 3/10: 234/469 batches, loss 0.1234, 41200 samples/s, ETA 4s
///
///   training::Progress progress(loader.num_batches(), {.label = "epoch 3/10"});
///   for (const auto& batch : loader.epoch(e)) { ...; progress.step(batch_size, loss.item()); }
///   progress.finish();
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>

#include "tapegrad/callback.hpp"

namespace tg::training {

/// How a Progress shows itself.
enum class ProgressMode {
  automatic,  ///< bar when the stream is std::cout or std::cerr on a terminal (and TERM is not
              ///< "dumb"), lines otherwise
  bar,        ///< always the live bar
  lines,      ///< always periodic plain lines
};

/// How a Progress displays: label, stream, mode and intervals (defaults in each field).
struct ProgressOptions {
  std::string label;                ///< shown first, e.g. "epoch 3/10"
  std::ostream* out = nullptr;      ///< where to write; nullptr = std::cout
  ProgressMode mode = ProgressMode::automatic;  ///< bar, lines, or chosen from the stream (default)
  double log_interval = 10.0;       ///< seconds between plain lines
  double refresh_interval = 0.1;    ///< seconds between redraws of the bar
  std::size_t bar_width = 30;       ///< characters inside the brackets (shrunk to fit the terminal)
  Callback<double()> clock;    ///< seconds from any origin; empty = std::chrono::steady_clock
};

/// Tracks batches, samples, the running (sample-weighted mean) loss and throughput of one loop.
class Progress {
 public:
  /// total_batches: how many step() calls make the whole loop (0 = unknown: no bar and no ETA).
  explicit Progress(std::size_t total_batches, ProgressOptions options = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Records one finished batch of `samples` samples whose mean loss was `loss`, and redraws or
  /// logs when it is time to.
  void step(std::size_t samples, double loss);
  /// Ends the display (erases the bar; prints nothing in lines mode). Called by the destructor
  /// if needed; the statistics stay readable afterwards.
  void finish();

  /// Batches and samples recorded by step() so far.
  ///@{
  std::size_t batches() const { return batches_; }
  std::size_t samples() const { return samples_; }
  ///@}
  /// Mean loss per sample so far (0 before the first step).
  double mean_loss() const;
  /// Seconds since construction (frozen at finish()).
  double elapsed() const;
  /// samples / elapsed (0 before any time has passed).
  double samples_per_second() const;
  /// True when drawing the live bar rather than lines.
  bool is_bar() const { return bar_; }

 private:
  double now() const;
  std::string status(bool for_bar) const;
  void draw();

  std::size_t total_;
  ProgressOptions options_;
  std::ostream* out_;
  bool bar_ = false;
  bool finished_ = false;
  double start_, last_output_, finished_at_ = 0;
  std::size_t batches_ = 0, samples_ = 0;
  double loss_sum_ = 0;
  std::size_t drawn_width_ = 0;
};

/// Seconds as "4s", "1m05s" or "2h03m" (for logs and summaries).
std::string format_duration(double seconds);

}  // namespace tg::training
