// Small helpers for the benchmark programs: a clock, process memory, deterministic weights that
// bench/torch_bench.py reproduces bit for bit, command-line options and JSON-lines output.
#pragma once

#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace bench {

/// The median of v (the upper one of the middle two for an even count).
inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

/// Peak resident set size of this process so far (getrusage), in MiB.
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

/// Resets the kernel's peak-RSS mark (and so ru_maxrss) to the current RSS, so a later
/// peak_rss_mib() covers only what follows; false where /proc/self/clear_refs is refused.
inline bool reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

/// Minor page faults of this process so far (each first touch of a fresh page is one).
inline double minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

/// Cost of the first touch of fresh anonymous memory, in microseconds per 4 KiB page (mmap,
/// write one byte per page, munmap), the median of three 64 MiB rounds.
double first_touch_us_per_page();

/// Current resident set size (from /proc/self/statm), in MiB.
inline double current_rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

/// Bytes the C heap (glibc malloc) has handed out and not yet taken back.
inline double heap_bytes_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<double>(info.uordblks) + static_cast<double>(info.hblkhd);
}

/// splitmix64, the generator behind the shared initial weights (torch_bench.py has the same).
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// n values uniform in [-bound, bound): element i of stream `seed` is a pure function of
/// (seed, i), computed in double and rounded to float, so both frameworks start from the same
/// weights.
inline std::vector<float> uniform_weights(std::uint64_t seed, std::size_t n, double bound) {
  std::vector<float> w(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(splitmix64((seed << 32) + i) >> 11) * 0x1.0p-53;
    w[i] = static_cast<float>((2.0 * u - 1.0) * bound);
  }
  return w;
}

/// --name value options after the subcommand; every option must be known and have a value.
class Options {
 public:
  Options(int argc, char** argv, int first, std::map<std::string, std::string> defaults)
      : values_(std::move(defaults)) {
    for (int i = first; i < argc; i += 2) {
      const std::string key = argv[i];
      if (key.rfind("--", 0) != 0 || values_.count(key.substr(2)) == 0 || i + 1 >= argc)
        throw std::runtime_error("unknown option or missing value: " + key);
      values_[key.substr(2)] = argv[i + 1];
    }
  }
  const std::string& str(const std::string& key) const { return values_.at(key); }
  long integer(const std::string& key) const {
    std::size_t used = 0;
    const long v = std::stol(str(key), &used);
    if (used != str(key).size() || v < 0) throw std::runtime_error("--" + key + " needs a count, got " + str(key));
    return v;
  }

 private:
  std::map<std::string, std::string> values_;
};

/// One JSON object per line: {"key": value, ...}. Values are numbers or strings.
class JsonLine {
 public:
  JsonLine& add(const std::string& key, double value) {
    std::ostringstream out;
    out.precision(9);
    if (std::isfinite(value)) out << value;
    else out << "null";
    return raw(key, out.str());
  }
  JsonLine& add(const std::string& key, const std::string& value) { return raw(key, "\"" + value + "\""); }
  JsonLine& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  void print() const {
    std::printf("{%s}\n", body_.c_str());
    std::fflush(stdout);
  }

 private:
  JsonLine& raw(const std::string& key, const std::string& value) {
    if (!body_.empty()) body_ += ", ";
    body_ += "\"" + key + "\": " + value;
    return *this;
  }
  std::string body_;
};

inline double first_touch_us_per_page() {
  const std::size_t bytes = std::size_t{64} << 20, page = 4096;
  std::vector<double> rounds;
  for (int r = 0; r < 3; ++r) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NAN;
    auto* bytes_ptr = static_cast<volatile char*>(p);
    const double start = now_seconds();
    for (std::size_t i = 0; i < bytes; i += page) bytes_ptr[i] = 1;
    rounds.push_back((now_seconds() - start) / static_cast<double>(bytes / page) * 1e6);
    munmap(p, bytes);
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[1];
}

}  // namespace bench
