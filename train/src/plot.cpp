// Plots through gnuplot: a script with inline datablocks, run once per file format.
#include "tapegrad/train/plot.hpp"
#include "tapegrad/xtensor.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

extern char** environ;

namespace tg::training::plot {

namespace {

// Dark colours for curves and points; light partners for decision regions.
const char* const kDark[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                             "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
const unsigned kLight[][3] = {{198, 219, 239}, {248, 200, 198}, {199, 233, 192}, {253, 216, 176}, {222, 218, 238},
                              {226, 206, 200}, {248, 214, 235}, {222, 222, 222}, {236, 236, 190}, {196, 236, 242}};
constexpr std::size_t kColours = sizeof kDark / sizeof kDark[0];

std::string gnuplot_executable() {
  const char* env = std::getenv("TAPEGRAD_GNUPLOT");
  return env && *env ? env : "gnuplot";
}

/// A gnuplot single-quoted string: '' stands for a quote; line breaks become spaces.
std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += "''";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out + "'";
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

bool file_is_nonempty(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

/// A temporary file that removes itself.
struct TempFile {
  std::string path;
  int fd = -1;
  explicit TempFile(const char* stem) {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir && *dir ? dir : "/tmp") + "/" + stem + "-XXXXXX";
    fd = ::mkstemp(path.data());
    if (fd < 0) path.clear();
  }
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

std::string first_lines(const std::string& path, std::size_t count) {
  std::ifstream in(path);
  std::string line, out;
  for (std::size_t i = 0; i < count && std::getline(in, line);) {
    if (line.find_first_not_of(" \t^") == std::string::npos) continue;  // gnuplot's caret lines
    out += (out.empty() ? "" : " | ") + line;
    ++i;
  }
  return out;
}

/// Runs gnuplot on the script; "" on success, else the reason.
std::string run_gnuplot(const std::string& script) {
  TempFile script_file("tapegrad-plot"), errors("tapegrad-plot-err");
  if (script_file.fd < 0 || errors.fd < 0)
    return std::string("cannot create a temporary file: ") + std::strerror(errno);
  if (::write(script_file.fd, script.data(), script.size()) != static_cast<ssize_t>(script.size()))
    return "cannot write the gnuplot script to " + script_file.path;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, errors.fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, errors.fd, STDERR_FILENO);
  const std::string program = gnuplot_executable();
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), script_file.path.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (rc == ENOENT) return program + " not found; install it with `apt-get install gnuplot-nox`";
    return "cannot start " + program + ": " + std::strerror(rc);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return "waitpid failed: " + std::string(std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  // posix_spawnp may report a missing program only through the child's exit status 127.
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return program + " not found; install it with `apt-get install gnuplot-nox`";
  const std::string detail = first_lines(errors.path, 3);
  return program + " failed" + (WIFEXITED(status) ? " (exit status " + std::to_string(WEXITSTATUS(status)) + ")" : "") +
         (detail.empty() ? "" : ": " + detail);
}

/// Writes `datablocks`, then `body` once per requested format, and runs gnuplot.
PlotResult render(const Output& output, int default_width, int default_height, const std::string& datablocks,
                  const std::function<std::string()>& body) {
  PlotResult result;
  try {
    if (!output.png && !output.svg) {
      result.message = "no format requested";
      return result;
    }
    const int width = output.width > 0 ? output.width : default_width;
    const int height = output.height > 0 ? output.height : default_height;
    std::ostringstream script;
    script << "set encoding utf8\n" << datablocks;
    std::vector<std::string> files;
    for (const bool png : {true, false}) {
      if (png ? !output.png : !output.svg) continue;
      const std::string file = output.stem + (png ? ".png" : ".svg");
      files.push_back(file);
      if (png)
        script << "set terminal pngcairo size " << width << "," << height
               << " noenhanced font 'Sans,11' background rgb 'white'\n";
      else
        script << "set terminal svg size " << width << "," << height
               << " noenhanced font 'Sans,11' background rgb 'white'\n";
      script << "set output " << quote(file) << "\n" << body() << "unset output\nreset\n";
    }
    for (const auto& file : files) std::remove(file.c_str());  // so a stale picture cannot pass for a new one
    const std::string error = run_gnuplot(script.str());
    if (!error.empty()) {
      result.message = error;
      return result;
    }
    for (const auto& file : files) {
      if (!file_is_nonempty(file)) {
        result.message = "gnuplot did not write " + file;
        return result;
      }
    }
    result.ok = true;
    result.files = files;
  } catch (const std::exception& e) {
    result.message = e.what();
  }
  return result;
}

std::string tic_list(const std::vector<std::string>& names, std::size_t count) {
  std::string tics = "(";
  for (std::size_t i = 0; i < count; ++i)
    tics += (i ? ", " : "") + quote(i < names.size() ? names[i] : std::to_string(i)) + " " + std::to_string(i);
  return tics + ")";
}

/// The body of one line chart (no multiplot handling).
std::string chart_body(const LineChart& chart, std::size_t index) {
  std::ostringstream s;
  s << "set title " << quote(chart.title) << " font ',12'\n"
    << "set xlabel " << quote(chart.xlabel) << "\nset ylabel " << quote(chart.ylabel) << "\n"
    << "set grid lc rgb '#dddddd'\nset key " << chart.key << " box opaque\n";
  if (chart.log_y) s << "set logscale y\n";
  if (!chart.y_format.empty()) s << "set format y " << quote(chart.y_format) << "\n";
  // Whole-number x values over a short span (epochs 1..10) get one tic per value.
  bool integral = true;
  double lo = INFINITY, hi = -INFINITY;
  std::size_t most_points = 0;
  for (const auto& series : chart.series) {
    most_points = std::max(most_points, series.x.size());
    for (double x : series.x) {
      integral = integral && x == std::floor(x);
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (integral && hi - lo >= 1 && hi - lo <= 20) s << "set xtics 1\n";
  if (integral && lo == hi) s << "set xrange [" << lo - 1 << ":" << hi + 1 << "]\n";
  // Few points: marked; many (thousands of epochs): thin lines, so oscillations stay legible.
  const std::string style = most_points <= 40 ? "linespoints pt 7 ps 0.7 lw 2" : "lines lw 1";
  s << "plot ";
  for (std::size_t i = 0; i < chart.series.size(); ++i)
    s << (i ? ", \\\n     " : "") << "$chart" << index << "_" << i << " using 1:2 with " << style
      << " lc rgb '" << kDark[i % kColours] << "' title " << quote(chart.series[i].label);
  if (chart.series.empty()) s << "NaN notitle";
  s << "\n";
  if (chart.log_y) s << "unset logscale y\n";
  s << "set format y\nset xtics autofreq\nset autoscale x\n";
  return s.str();
}

}  // namespace

std::string describe(const PlotResult& result) {
  if (!result.ok) return "plot skipped: " + result.message;
  std::string text = "wrote ";
  for (std::size_t i = 0; i < result.files.size(); ++i) text += (i ? ", " : "") + result.files[i];
  return text;
}

bool gnuplot_available() { return run_gnuplot("").empty(); }

PlotResult line_charts(const std::vector<LineChart>& charts, const std::string& title, const Output& output) {
  std::ostringstream data;
  for (std::size_t c = 0; c < charts.size(); ++c) {
    for (std::size_t i = 0; i < charts[c].series.size(); ++i) {
      const Series& series = charts[c].series[i];
      if (series.x.size() != series.y.size()) {
        PlotResult bad;
        bad.message = "series '" + series.label + "' has " + std::to_string(series.x.size()) + " x values and " +
                      std::to_string(series.y.size()) + " y values";
        return bad;
      }
      data << "$chart" << c << "_" << i << " << EOD\n";
      for (std::size_t k = 0; k < series.x.size(); ++k)
        data << number(series.x[k]) << " " << number(series.y[k]) << "\n";
      data << "EOD\n";
    }
  }
  const int columns = static_cast<int>(std::max<std::size_t>(1, charts.size()));
  return render(output, 520 * columns, 420, data.str(), [&] {
    std::ostringstream body;
    body << "set multiplot layout 1," << columns << " title " << quote(title) << " font ',14'\n";
    for (std::size_t c = 0; c < charts.size(); ++c) body << chart_body(charts[c], c);
    body << "unset multiplot\n";
    return body.str();
  });
}

Heatmap confusion_heatmap(const ConfusionMatrix& matrix, const std::vector<std::string>& class_names,
                          const std::string& title, bool hide_zeros) {
  const std::size_t n = matrix.num_classes();
  Heatmap map;
  map.title = title;
  map.xlabel = "predicted class";
  map.ylabel = "true class";
  map.colorbar_label = "share of the true class";
  xt::xarray<double> colour = xt::zeros<double>({n, n});
  xt::xarray<double> annotation = xt::zeros<double>({n, n});
  for (std::size_t t = 0; t < n; ++t) {
    std::int64_t row_total = 0;
    for (std::size_t p = 0; p < n; ++p) row_total += matrix.count(t, p);
    for (std::size_t p = 0; p < n; ++p) {
      annotation(t, p) = static_cast<double>(matrix.count(t, p));
      colour(t, p) = row_total ? static_cast<double>(matrix.count(t, p)) / static_cast<double>(row_total) : 0.0;
    }
  }
  map.colour = Tensor(std::move(colour));
  map.annotation = Tensor(std::move(annotation));
  map.hide_zero_annotations = hide_zeros;
  map.row_names = map.col_names = class_names;
  return map;
}

PlotResult heatmap(const Heatmap& map, const Output& output) {
  if (!map.colour.defined() || !map.annotation.defined() || map.colour.dim() != 2 ||
      map.annotation.shape() != map.colour.shape()) {
    PlotResult bad;
    bad.message = "heatmap: colour and annotation must be matrices of the same shape";
    return bad;
  }
  const auto colour = map.colour.to_double();
  const auto annotation = map.annotation.to_double();
  const std::size_t rows = colour.shape(0), cols = colour.shape(1);
  std::ostringstream data;
  data << "$cells << EOD\n";
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      data << c << " " << r << " " << number(colour(r, c)) << " " << number(annotation(r, c)) << "\n";
  data << "EOD\n";
  return render(output, 700, 620, data.str(), [&] {
    std::ostringstream s;
    const std::string label = "sprintf(" + quote(map.annotation_format) + ", $4)";
    bool long_names = false;  // names wider than a cell are slanted so they do not overlap
    for (const auto& name : map.col_names) long_names = long_names || name.size() > 4;
    const std::string shown = map.hide_zero_annotations ? "($4 != 0 || $1 == $2)" : "1";
    s << "set title " << quote(map.title) << " font ',13'\n"
      << "set xlabel " << quote(map.xlabel) << "\nset ylabel " << quote(map.ylabel) << "\n"
      << "set cblabel " << quote(map.colorbar_label) << "\n"
      << "set xrange [-0.5:" << cols - 0.5 << "]\nset yrange [" << rows - 0.5 << ":-0.5]\n"
      << "set xtics " << tic_list(map.col_names, cols) << " scale 0" << (long_names ? " rotate by 40 right" : "")
      << "\n"
      << "set ytics " << tic_list(map.row_names, rows) << " scale 0\n"
      << "set size ratio " << static_cast<double>(rows) / static_cast<double>(cols) << "\n"
      << "set cbrange [0:1]\nset cbtics 0.2\n"
      // Spread the low end: a 1% confusion is already clearly tinted.
      << "set palette defined (0 '#ffffff', 0.01 '#eef4fb', 0.05 '#c6dbef', 0.2 '#6baed6', 0.5 '#2171b5', 1 "
         "'#08306b')\n"
      << "plot $cells using 1:2:3 with image notitle, \\\n"
      << "     $cells using 1:2:(" << shown << " && $3 > 0.35 ? " << label
      << " : '') with labels tc rgb 'white' notitle, \\\n"
      << "     $cells using 1:2:(" << shown << " && $3 <= 0.35 ? " << label
      << " : '') with labels tc rgb 'black' notitle\n";
    return s.str();
  });
}

PlotResult decision_regions(const DecisionRegions& r, const Output& output) {
  PlotResult bad;
  if (r.nx == 0 || r.ny == 0 || r.grid_class.size() != r.nx * r.ny)
    bad.message = "decision_regions: grid_class has " + std::to_string(r.grid_class.size()) + " cells for a " +
                  std::to_string(r.ny) + " x " + std::to_string(r.nx) + " grid";
  else if (r.point_x.size() != r.point_y.size() || r.point_x.size() != r.point_class.size())
    bad.message = "decision_regions: point_x, point_y and point_class differ in length";
  else if (!(r.x_max > r.x_min && r.y_max > r.y_min))
    bad.message = "decision_regions: empty rectangle";
  if (!bad.message.empty()) return bad;

  std::int64_t classes = 0;
  for (auto c : r.grid_class) classes = std::max(classes, c + 1);
  for (auto c : r.point_class) classes = std::max(classes, c + 1);
  const double dx = (r.x_max - r.x_min) / static_cast<double>(r.nx),
               dy = (r.y_max - r.y_min) / static_cast<double>(r.ny);
  std::ostringstream data;
  data << "$grid << EOD\n";
  for (std::size_t i = 0; i < r.ny; ++i) {
    for (std::size_t j = 0; j < r.nx; ++j) {
      const auto c = static_cast<std::size_t>(std::max<std::int64_t>(0, r.grid_class[i * r.nx + j])) % kColours;
      data << number(r.x_min + (static_cast<double>(j) + 0.5) * dx) << " "
           << number(r.y_min + (static_cast<double>(i) + 0.5) * dy) << " " << kLight[c][0] << " " << kLight[c][1]
           << " " << kLight[c][2] << "\n";
    }
    data << "\n";
  }
  data << "EOD\n";
  for (std::int64_t k = 0; k < classes; ++k) {
    data << "$points" << k << " << EOD\n";
    for (std::size_t p = 0; p < r.point_x.size(); ++p)
      if (r.point_class[p] == k) data << number(r.point_x[p]) << " " << number(r.point_y[p]) << "\n";
    data << "EOD\n";
  }
  return render(output, 700, 600, data.str(), [&] {
    std::ostringstream s;
    s << "set title " << quote(r.title) << " font ',13'\n"
      << "set xlabel " << quote(r.xlabel) << "\nset ylabel " << quote(r.ylabel) << "\n"
      << "set xrange [" << number(r.x_min) << ":" << number(r.x_max) << "]\n"
      << "set yrange [" << number(r.y_min) << ":" << number(r.y_max) << "]\n"
      << "set size ratio -1\nset key top left box opaque Left reverse\n"
      << "plot $grid using 1:2:3:4:5 with rgbimage notitle";
    for (std::int64_t k = 0; k < classes; ++k) {
      const auto kk = static_cast<std::size_t>(k);
      const std::string name = kk < r.class_names.size() ? r.class_names[kk] : "class " + std::to_string(k);
      s << ", \\\n     $points" << k << " using 1:2 with points pt 7 ps 0.9 lc rgb '" << kDark[kk % kColours]
        << "' title " << quote(name) << ", \\\n     $points" << k
        << " using 1:2 with points pt 6 ps 0.9 lc rgb '#333333' notitle";
    }
    s << "\n";
    return s.str();
  });
}

}  // namespace tg::training::plot
