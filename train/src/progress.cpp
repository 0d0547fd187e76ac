// Progress display: a live bar on terminals, periodic lines elsewhere.
#include "tapegrad/train/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace tg::training {

namespace {

/// The file descriptor behind std::cout / std::cerr, or -1 for any other stream.
int descriptor_of(const std::ostream* out) {
  if (out == &std::cout) return STDOUT_FILENO;
  if (out == &std::cerr || out == &std::clog) return STDERR_FILENO;
  return -1;
}

bool is_interactive_terminal(int fd) {
  if (fd < 0 || !::isatty(fd)) return false;
  const char* term = std::getenv("TERM");
  return !(term && std::strcmp(term, "dumb") == 0);
}

/// Terminal width in columns (80 when unknown).
std::size_t terminal_columns(int fd) {
  winsize ws{};
  if (fd >= 0 && ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

/// "0:04", "12:31", "1:02:03": the bar's ETA style.
std::string clock_style(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

/// 41200.4 -> "41,200".
std::string with_thousands(double value) {
  std::string digits = std::to_string(std::llround(std::max(0.0, value)));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return digits;
}

}  // namespace

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds < 10) {
    std::snprintf(buf, sizeof buf, "%.1fs", std::max(0.0, seconds));
    return buf;
  }
  const long s = std::lround(seconds);
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%lds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  return buf;
}

Progress::Progress(std::size_t total_batches, ProgressOptions options)
    : total_(total_batches), options_(std::move(options)), out_(options_.out ? options_.out : &std::cout) {
  switch (options_.mode) {
    case ProgressMode::bar: bar_ = true; break;
    case ProgressMode::lines: bar_ = false; break;
    case ProgressMode::automatic: bar_ = is_interactive_terminal(descriptor_of(out_)); break;
  }
  start_ = last_output_ = now();
  if (bar_) draw();
}

Progress::~Progress() {
  if (!finished_) finish();
}

double Progress::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Progress::step(std::size_t samples, double loss) {
  ++batches_;
  samples_ += samples;
  loss_sum_ += loss * static_cast<double>(samples);
  const double t = now();
  if (bar_) {
    if (t - last_output_ >= options_.refresh_interval || batches_ == total_) {
      last_output_ = t;
      draw();
    }
  } else if (t - last_output_ >= options_.log_interval && batches_ != total_) {
    last_output_ = t;
    *out_ << status(false) << std::endl;
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_at_ = now();
  finished_ = true;
  if (bar_ && drawn_width_ > 0) *out_ << '\r' << std::string(drawn_width_, ' ') << '\r' << std::flush;
}

double Progress::mean_loss() const { return samples_ == 0 ? 0.0 : loss_sum_ / static_cast<double>(samples_); }

double Progress::elapsed() const { return (finished_ ? finished_at_ : now()) - start_; }

double Progress::samples_per_second() const {
  const double seconds = elapsed();
  return seconds > 0 ? static_cast<double>(samples_) / seconds : 0.0;
}

std::string Progress::status(bool for_bar) const {
  const double seconds = elapsed();
  const bool has_eta = total_ > 0 && batches_ > 0 && batches_ < total_;
  const double eta = has_eta ? seconds / static_cast<double>(batches_) * static_cast<double>(total_ - batches_) : 0;
  char loss[32];
  std::snprintf(loss, sizeof loss, "%.4f", mean_loss());
  std::string s;
  if (for_bar) {
    s = std::to_string(batches_) + (total_ ? "/" + std::to_string(total_) : "") + "  loss " + loss + "  " +
        with_thousands(samples_per_second()) + " samples/s";
    if (has_eta) s += "  ETA " + clock_style(eta);
  } else {
    s = options_.label + (options_.label.empty() ? "" : ": ") + std::to_string(batches_) +
        (total_ ? "/" + std::to_string(total_) : "") + " batches, loss " + loss + ", " +
        std::to_string(std::llround(samples_per_second())) + " samples/s";
    if (has_eta) s += ", ETA " + format_duration(eta);
  }
  return s;
}

void Progress::draw() {
  const std::string tail = status(true);
  std::string line = options_.label;
  const std::size_t columns = terminal_columns(descriptor_of(out_));
  // Room for the bar: the terminal width less the label, the status and the brackets and spaces.
  const std::size_t fixed = line.size() + tail.size() + 5;
  const std::size_t width = columns > fixed + 5 ? std::min(options_.bar_width, columns - fixed) : 0;
  if (width > 0 && total_ > 0) {
    const std::size_t filled = std::min(width, batches_ * width / total_);
    std::string bar(filled, '=');
    if (filled < width) bar += (batches_ > 0 ? ">" : " ") + std::string(width - filled - 1, ' ');
    line += (line.empty() ? "[" : " [") + bar + "] ";
  } else if (!line.empty()) {
    line += " ";
  }
  line += tail;
  if (line.size() >= columns) line.resize(columns - 1);  // a wrapped line could not be redrawn
  const std::size_t padding = drawn_width_ > line.size() ? drawn_width_ - line.size() : 0;
  *out_ << '\r' << line << std::string(padding, ' ') << std::flush;
  drawn_width_ = line.size();
}

}  // namespace tg::training
