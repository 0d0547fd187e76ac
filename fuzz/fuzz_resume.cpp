// libFuzzer target: a checkpoint file as `mnist --resume` reads it (training::read_checkpoint_info,
// load_checkpoint into a model and Adam, resumed_epoch, read_checkpoint_metrics and
// check_resumed_metrics, then the metrics log written as CSV and read back, as the resumed run
// rewrites metrics.csv), and load_weights as `--load` reads it. The bytes go to a file in a
// per-process directory (in /dev/shm when there is one) because these functions take paths.
// tg::Error is the expected answer to bad input. Also a finding: a metrics log taken from a
// checkpoint that MetricsLog::write then MetricsLog::read do not give back (same columns and
// rows, values to the 10 significant digits the CSV keeps).
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "tapegrad/nn.hpp"
#include "tapegrad/optim/optim.hpp"
#include "tapegrad/train/checkpoint.hpp"

namespace fs = std::filesystem;

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_resume: %s\n", what);
  std::abort();
}

const fs::path& work_dir() {
  static const fs::path dir = [] {
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("tapegrad_fuzz_resume." + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= 1e-9 * std::fabs(a) + 1e-300;  // %.10g keeps 10 digits
}

void check_csv_round_trip(const tg::training::MetricsLog& log) {
  const std::string csv = (work_dir() / "metrics.csv").string();
  std::optional<tg::training::MetricsLog> back;
  try {
    log.write(csv);
    back = tg::training::MetricsLog::read(csv);
  } catch (const tg::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("a metrics log from a checkpoint could not be written and read back as CSV");
  }
  if (back->columns() != log.columns() || back->num_rows() != log.num_rows())
    finding("the CSV read back has other columns or another number of rows");
  for (std::size_t r = 0; r < log.num_rows(); ++r)
    for (std::size_t c = 0; c < log.columns().size(); ++c)
      if (!same_value(log.row(r)[c], back->row(r)[c])) finding("the CSV read back has another value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = (work_dir() / "checkpoint.npz").string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  constexpr std::size_t kEpochs = 5;
  tg::Generator gen(1);
  tg::nn::MLP model({3, 2, 1}, tg::nn::Tanh(), tg::nn::MLPOptions{0.0, true}, &gen);
  tg::optim::Adam adam(model.parameters(), tg::optim::AdamOptions(0.01));
  tg::training::CheckpointInfo info;
  try {
    info = tg::training::read_checkpoint_info(path);
  } catch (const tg::Error&) {
    return 0;
  }
  std::size_t epoch = 0;
  try {
    tg::training::load_checkpoint(path, model, &adam);
    epoch = tg::training::resumed_epoch(path, info, kEpochs);
  } catch (const tg::Error&) {
  }
  try {
    if (std::optional<tg::training::MetricsLog> saved = tg::training::read_checkpoint_metrics(path)) {
      check_csv_round_trip(*saved);
      try {
        tg::training::check_resumed_metrics(path, *saved, saved->columns(), epoch);
      } catch (const tg::Error&) {
      }
    }
  } catch (const tg::Error&) {
  }
  try {
    tg::training::load_weights(path, model);
  } catch (const tg::Error&) {
  }
  return 0;
}
