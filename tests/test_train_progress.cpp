// training::Progress: the live bar and the plain log lines, driven by a fake clock.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "tapegrad/tapegrad.hpp"

using tg::training::Progress;
using tg::training::ProgressMode;

namespace {
std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("Progress lines mode: one line per interval, none for the last batch") {
  std::ostringstream out;
  double now = 0;
  tg::training::ProgressOptions options;
  options.label = "epoch 1/2";
  options.out = &out;
  options.mode = ProgressMode::lines;
  options.log_interval = 10;
  options.clock = [&] { return now; };
  Progress progress(10, options);
  CHECK_FALSE(progress.is_bar());
  for (int i = 0; i < 10; ++i) {
    now += 3;  // a batch every 3 s: lines after batches 4 (12 s) and 8 (24 s)
    progress.step(100, i < 5 ? 1.0 : 0.5);
  }
  progress.finish();
  const std::string text = out.str();
  CHECK(count_of(text, "\n") == 2);
  CHECK_THAT(text, Catch::StartsWith("epoch 1/2: 4/10 batches, loss 1.0000, 33 samples/s, ETA 18s\n"));
  CHECK_THAT(text, Catch::Contains("epoch 1/2: 8/10 batches, loss 0.8125,"));
  CHECK(progress.mean_loss() == Approx(0.75));
  CHECK(progress.samples() == 1000);
  CHECK(progress.elapsed() == Approx(30));
  CHECK(progress.samples_per_second() == Approx(1000.0 / 30.0));
}

TEST_CASE("Progress bar mode: redrawn in place and erased at the end") {
  std::ostringstream out;
  double now = 0;
  tg::training::ProgressOptions options;
  options.label = "epoch 3/10";
  options.out = &out;
  options.mode = ProgressMode::bar;
  options.bar_width = 10;
  options.clock = [&] { return now; };
  {
    Progress progress(4, options);
    CHECK(progress.is_bar());
    now = 1;
    progress.step(50, 0.25);
    const std::string first = out.str();
    CHECK_THAT(first, Catch::Contains("\repoch 3/10 [==>       ] 1/4  loss 0.2500  50 samples/s  ETA 0:03"));
    now = 2;
    progress.step(50, 0.25);
    now = 2.05;  // within the refresh interval: no redraw
    progress.step(50, 0.25);
    CHECK(count_of(out.str(), "\r") == 3);  // the empty bar, batch 1, batch 2
    now = 2.06;
    progress.step(50, 0.25);  // the last batch is always drawn
    CHECK_THAT(out.str(), Catch::Contains("[==========] 4/4"));
  }  // the destructor finishes: the line is blanked and the cursor returned
  const std::string text = out.str();
  CHECK(text.back() == '\r');
  CHECK(text.find('\n') == std::string::npos);
}

TEST_CASE("Progress automatic mode uses lines for a stream that is not a terminal") {
  std::ostringstream out;
  tg::training::ProgressOptions options;
  options.out = &out;
  Progress progress(3, options);
  CHECK_FALSE(progress.is_bar());
}

TEST_CASE("format_duration") {
  CHECK(tg::training::format_duration(4.25) == "4.2s");
  CHECK(tg::training::format_duration(42) == "42s");
  CHECK(tg::training::format_duration(65) == "1m05s");
  CHECK(tg::training::format_duration(7380) == "2h03m");
}
