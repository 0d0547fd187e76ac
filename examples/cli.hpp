// The command-line flags every example takes (parsed by CLI11), and the set-up they imply.
//
//   examples::Flags flags;            // set the example's defaults first
//   flags.epochs = 1000; ...
//   CLI::App app{"what the example does", "clusters"};
//   examples::add_common_flags(app, flags);
//   if (int status = examples::parse_flags(app, argc, argv); status >= 0) return status;
//   examples::apply_threads(flags.threads);
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "tapegrad/threads.hpp"

namespace examples {

/// The usual flags. Each example sets its own defaults before add_common_flags().
struct Flags {
  std::size_t epochs = 10;
  double lr = 0.1;
  std::size_t batch_size = 32;
  std::vector<std::size_t> hidden;  ///< hidden layer sizes, e.g. {256, 128}
  std::uint64_t seed = 1;
  int threads = 0;                  ///< 0: the default (OPENBLAS_NUM_THREADS or one per core)
  std::string data;
  std::string save;
  std::string load;
  std::string plot_dir;
};

/// A finite number > 0 (CLI11's PositiveNumber lets NaN through).
inline const CLI::Validator kFinitePositive(
    [](std::string& text) -> std::string {
      double value = 0;
      if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || value <= 0)
        return "must be a finite number > 0, got '" + text + "'";
      return "";
    },
    "POSITIVE");

/// A finite number in [lo, hi] (CLI11's Range lets NaN through: every comparison with NaN is false).
inline CLI::Validator finite_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !(value >= lo && value <= hi))
          return "must be a number in [" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) +
                 "], got '" + text + "'";
        return "";
      },
      "[" + CLI::detail::to_string(lo) + " - " + CLI::detail::to_string(hi) + "]");
}

/// Refuses, before any data is read, hidden sizes whose network cannot be held in memory: the
/// float64 parameters of inputs-hidden...-outputs linear layers, times 4 (values, gradients, two
/// optimizer buffers), counted without overflow, against the machine's physical memory. Returns
/// -1 to go on, or 2 after a message naming --hidden.
inline int refuse_network_too_large(const std::string& program, std::size_t inputs,
                                    const std::vector<std::size_t>& hidden, std::size_t outputs) {
  std::vector<std::size_t> sizes{inputs};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(outputs);
  std::size_t params = 0, bytes = 0;
  bool overflow = false;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    std::size_t layer = 0;
    overflow = overflow || __builtin_mul_overflow(sizes[i], sizes[i + 1], &layer) ||
               __builtin_add_overflow(layer, sizes[i + 1], &layer) || __builtin_add_overflow(params, layer, &params);
  }
  overflow = overflow || __builtin_mul_overflow(params, std::size_t{4 * sizeof(double)}, &bytes);
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const double memory = pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
  if (!overflow && (memory == 0 || static_cast<double>(bytes) <= memory)) return -1;
  std::string layers = std::to_string(inputs);
  for (std::size_t h : hidden) layers += "-" + std::to_string(h);
  layers += "-" + std::to_string(outputs);
  std::cerr << program << ": --hidden: a " << layers << " network "
            << (overflow ? std::string("has more parameters than can be counted")
                         : "needs " + std::to_string(bytes) +
                               " bytes for its parameters, gradients and optimizer state, more than this machine's " +
                               std::to_string(static_cast<unsigned long long>(memory)) + " bytes of memory")
            << "\n";
  return 2;
}

/// Adds --epochs --lr --batch-size --hidden --seed --threads --data --save --load --plot-dir,
/// showing the values already in `flags` as defaults. An example may reword a description with
/// app.get_option("--data")->description(...).
inline void add_common_flags(CLI::App& app, Flags& flags) {
  app.add_option("--epochs", flags.epochs, "passes over the training data (0: only evaluate)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 24));
  app.add_option("--lr", flags.lr, "learning rate")->capture_default_str()->check(kFinitePositive);
  app.add_option("--batch-size", flags.batch_size, "samples per gradient step")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
  app.add_option("--hidden", flags.hidden, "hidden layer sizes, comma-separated (e.g. 256,128)")
      ->capture_default_str()
      ->delimiter(',')
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 16));
  app.add_option("--seed", flags.seed, "random seed (initial weights, shuffling, splits)")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{0xFFFFFFFF}));  // NumPy's seed range
  app.add_option("--threads", flags.threads, "threads (0: OPENBLAS_NUM_THREADS, else one per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  app.add_option("--data", flags.data, "where the data set is")->capture_default_str();
  app.add_option("--save", flags.save, "write the trained model (and optimizer state) to this .npz file")
      ->capture_default_str();
  app.add_option("--load", flags.load, "start from the weights in this .npz file (e.g. written by --save)")
      ->check(CLI::ExistingFile);
  app.add_option("--plot-dir", flags.plot_dir, "folder for the metrics log and plots")->capture_default_str();
}

/// Parses the command line. Returns -1 to go on, or the status to exit with: 0 after --help
/// (printed), 2 after a bad or unknown flag (with a message naming it on stderr).
inline int parse_flags(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << app.get_name() << ": " << e.what() << "\nRun `" << app.get_name()
              << " --help` for the list of flags.\n";
    return 2;
  }
  return -1;
}

/// Applies --threads (0 leaves the default).
inline void apply_threads(int threads) {
  if (threads > 0) tg::set_num_threads(threads);
}

/// Creates the plot folder (and its parents). Returns false, with a message, when it cannot.
inline bool make_plot_dir(const std::string& program, const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    std::cerr << program << ": cannot create the plot folder " << dir << ": " << error.message() << "\n";
    return false;
  }
  return true;
}

}  // namespace examples
