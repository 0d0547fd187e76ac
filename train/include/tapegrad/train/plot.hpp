/// \file
/// Plots for training runs, drawn by gnuplot (Debian: gnuplot-nox) as PNG and/or SVG files.
///
/// Each function writes the data and a gnuplot script (data inline, as datablocks) to a temporary
/// file, runs `gnuplot` on it and checks that the pictures appeared. Plotting never throws and
/// never stops a program: when gnuplot is missing or fails, the result says why (ok = false) and
/// describe() turns it into a one-line message. The environment variable TAPEGRAD_GNUPLOT names
/// another gnuplot executable.
///
///   auto result = training::plot::line_charts({loss_chart, accuracy_chart}, "MNIST", {"out/mnist/curves"});
///   std::cout << training::plot::describe(result) << "\n";   // "wrote out/mnist/curves.png, out/mnist/curves.svg"
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/train/metrics.hpp"

namespace tg::training::plot {

/// Where a picture goes: `stem.png` and/or `stem.svg`, width x height pixels. The folder
/// must exist.
struct Output {
  std::string stem;  ///< path without extension, e.g. "out/mnist_curves"
  bool png = true;   ///< write stem.png (default true)
  bool svg = true;   ///< write stem.svg (default true)
  int width = 0;   ///< 0: each plot's own default
  int height = 0;  ///< 0: each plot's own default
};

/// What happened: the files written, or why nothing was.
struct PlotResult {
  bool ok = false;                 ///< true when every file asked for was written
  std::vector<std::string> files;  ///< the files written
  std::string message;  ///< empty when ok
};

/// "wrote a.png, a.svg" or "plot skipped (a): REASON".
std::string describe(const PlotResult& result);

/// True when the gnuplot executable can be started.
bool gnuplot_available();

/// One curve of a line chart.
struct Series {
  std::string label;  ///< legend entry
  /// The points (x[i], y[i]); x and y have equal lengths.
  ///@{
  std::vector<double> x, y;
  ///@}
};

/// A chart of curves sharing axes, e.g. training and validation loss against the epoch.
struct LineChart {
  /// An empty chart.
  LineChart() = default;
  /// A chart with its titles and curves.
  LineChart(std::string title, std::string xlabel, std::string ylabel, std::vector<Series> series = {})
      : title(std::move(title)), xlabel(std::move(xlabel)), ylabel(std::move(ylabel)), series(std::move(series)) {}

  /// Chart title and axis labels.
  ///@{
  std::string title, xlabel, ylabel;
  ///@}
  std::vector<Series> series;       ///< the curves
  bool log_y = false;               ///< logarithmic y axis (needs positive values)
  std::string y_format;             ///< printf format of y tic labels, e.g. "%.0f%%"; "" = gnuplot's
  std::string key = "top right";    ///< gnuplot legend position ("bottom right", "outside", ...)
};

/// Charts side by side (one row), under an overall title. Default size 520 px per chart x 420.
PlotResult line_charts(const std::vector<LineChart>& charts, const std::string& title, const Output& output);

/// A grid of coloured cells with a number written in each, e.g. a confusion matrix.
struct Heatmap {
  /// Title and axis labels.
  ///@{
  std::string title, xlabel, ylabel;
  ///@}
  std::string colorbar_label;      ///< label of the colour scale
  Tensor colour;                   ///< (rows, cols) floating, each in [0, 1]: the cell's colour
  Tensor annotation;               ///< (rows, cols) floating: the number written in each cell
  std::string annotation_format = "%.0f";  ///< printf format of the annotations
  bool hide_zero_annotations = false;      ///< leave cells whose annotation is 0 blank
  /// Tic labels of rows and columns; default 0, 1, ...
  ///@{
  std::vector<std::string> row_names, col_names;
  ///@}
};

/// Draws the heatmap with row 0 at the top. Default size 700 x 620.
PlotResult heatmap(const Heatmap& map, const Output& output);

/// A confusion matrix as a heatmap: cells coloured by the share of their true class (row),
/// on a palette that makes small shares visible, and annotated with the counts (zeros off the
/// diagonal left blank when hide_zeros).
Heatmap confusion_heatmap(const ConfusionMatrix& matrix, const std::vector<std::string>& class_names,
                          const std::string& title, bool hide_zeros = true);

/// The classes a 2-D classifier assigns over a rectangle, with labelled points on top.
struct DecisionRegions {
  /// Title and axis labels (default "x1", "x2").
  ///@{
  std::string title, xlabel = "x1", ylabel = "x2";
  ///@}
  /// The rectangle (default the unit square).
  ///@{
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  ///@}
  /// Grid resolution: nx columns, ny rows.
  ///@{
  std::size_t nx = 0, ny = 0;
  ///@}
  std::vector<std::int64_t> grid_class;   ///< (ny, nx) row-major, row 0 at y_min, column 0 at x_min;
                                          ///< cell (i, j) is centred on x_min + (j + 0.5) dx,
                                          ///< y_min + (i + 0.5) dy
  /// The data points' coordinates.
  ///@{
  std::vector<double> point_x, point_y;
  ///@}
  std::vector<std::int64_t> point_class;  ///< their true classes
  std::vector<std::string> class_names;   ///< legend entries; default "class 0", ...
};

/// Light region colours per class with the points in the matching dark colour (up to 10
/// classes). Default size 700 x 600.
PlotResult decision_regions(const DecisionRegions& regions, const Output& output);

}  // namespace tg::training::plot
