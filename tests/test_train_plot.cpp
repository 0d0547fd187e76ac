// training::plot: pictures through gnuplot, and soft failure when gnuplot is missing or fails.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"

namespace plot = tg::training::plot;

namespace {

std::string head_of(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(n, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(n));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Sets an environment variable for the lifetime of the guard.
struct EnvGuard {
  std::string name;
  std::string old;
  bool had;
  EnvGuard(const char* n, const char* value) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    ::setenv(n, value, 1);
  }
  ~EnvGuard() {
    if (had) ::setenv(name.c_str(), old.c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

plot::LineChart loss_chart() {
  plot::LineChart chart;
  chart.title = "Loss";
  chart.xlabel = "epoch";
  chart.ylabel = "cross-entropy";
  chart.series = {{"train", {1, 2, 3}, {0.9, 0.5, 0.3}}, {"validation's", {1, 2, 3}, {1.0, 0.6, 0.45}}};
  return chart;
}

}  // namespace

TEST_CASE("plot: line charts, heatmap and decision regions as PNG and SVG") {
  if (!plot::gnuplot_available()) {
    WARN("gnuplot is not installed (apt-get install gnuplot-nox): picture checks skipped");
    return;
  }
  const plot::PlotResult curves = plot::line_charts({loss_chart(), loss_chart()}, "Run 'one'", {"test_plot_curves"});
  INFO(curves.message);
  REQUIRE(curves.ok);
  REQUIRE(curves.files == std::vector<std::string>{"test_plot_curves.png", "test_plot_curves.svg"});
  CHECK(head_of("test_plot_curves.png", 8) == "\x89PNG\r\n\x1a\n");
  const std::string svg = slurp("test_plot_curves.svg");
  CHECK_THAT(svg, Catch::Contains("<svg"));
  CHECK_THAT(svg, Catch::Contains("validation's"));  // the quote survived gnuplot's string syntax
  CHECK_THAT(svg, Catch::Contains("cross-entropy"));
  CHECK(plot::describe(curves) == "wrote test_plot_curves.png, test_plot_curves.svg");

  tg::training::ConfusionMatrix m(3);
  m.add(std::vector<std::int64_t>{0, 1, 1, 2, 2, 0}, std::vector<std::int64_t>{0, 1, 2, 2, 2, 0});
  const plot::Heatmap map = plot::confusion_heatmap(m, {"a", "b", "c"}, "Confusion");
  CHECK(map.colour.value<double>()(2, 1) == Approx(1.0 / 3.0));
  CHECK(map.annotation.value<double>()(2, 2) == 2);
  const plot::PlotResult heat = plot::heatmap(map, {"test_plot_heat", false, true});
  INFO(heat.message);
  REQUIRE(heat.ok);
  CHECK(heat.files == std::vector<std::string>{"test_plot_heat.svg"});
  CHECK_THAT(slurp("test_plot_heat.svg"), Catch::Contains("predicted class"));

  plot::DecisionRegions regions;
  regions.title = "Regions";
  regions.x_min = -1, regions.x_max = 1, regions.y_min = -1, regions.y_max = 1;
  regions.nx = 2, regions.ny = 2;
  regions.grid_class = {0, 1, 1, 2};
  regions.point_x = {-0.5, 0.5, 0.5};
  regions.point_y = {-0.5, -0.5, 0.5};
  regions.point_class = {0, 1, 2};
  const plot::PlotResult picture = plot::decision_regions(regions, {"test_plot_regions", true, false});
  INFO(picture.message);
  CHECK(picture.ok);
  for (const char* f : {"test_plot_curves.png", "test_plot_curves.svg", "test_plot_heat.svg", "test_plot_regions.png"})
    std::remove(f);
}

TEST_CASE("plot: a missing or failing gnuplot is reported, never thrown") {
  {
    EnvGuard missing("TAPEGRAD_GNUPLOT", "/nonexistent/gnuplot");
    CHECK_FALSE(plot::gnuplot_available());
    plot::PlotResult result;
    CHECK_NOTHROW(result = plot::line_charts({loss_chart()}, "t", {"test_plot_missing"}));
    CHECK_FALSE(result.ok);
    CHECK_THAT(plot::describe(result), Catch::Contains("not found; install it with `apt-get install gnuplot-nox`"));
  }
  {
    EnvGuard failing("TAPEGRAD_GNUPLOT", "false");
    const plot::PlotResult result = plot::line_charts({loss_chart()}, "t", {"test_plot_failing"});
    CHECK_FALSE(result.ok);
    CHECK_THAT(result.message, Catch::Contains("false failed (exit status 1)"));
  }
  // Bad input is a message too.
  plot::DecisionRegions regions;
  regions.nx = 2, regions.ny = 2;
  regions.grid_class = {0};
  CHECK_THAT(plot::decision_regions(regions, {"x"}).message, Catch::Contains("1 cells for a 2 x 2 grid"));
  plot::LineChart ragged = loss_chart();
  ragged.series[0].y.pop_back();
  CHECK_THAT(plot::line_charts({ragged}, "t", {"x"}).message, Catch::Contains("3 x values and 2 y values"));
}
