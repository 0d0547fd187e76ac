// Access to the PyTorch reference fixtures (../shared/reference, or $TAPEGRAD_REFERENCE_DIR).
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <xtensor/xjson.hpp>

#include "tapegrad/tensor.hpp"
#include "tapegrad/xtensor.hpp"

namespace tg::testing {

/// The fixture folder: $TAPEGRAD_REFERENCE_DIR if set, else <repo>/../shared/reference.
inline std::string reference_dir() {
  if (const char* env = std::getenv("TAPEGRAD_REFERENCE_DIR"); env && *env) return env;
  return std::string(TAPEGRAD_SOURCE_DIR) + "/../shared/reference";
}

/// Parses one fixture file; fails the test with a clear message when it is missing.
inline nlohmann::json load_reference(const std::string& file) {
  const std::string path = reference_dir() + "/" + file;
  std::ifstream in(path);
  if (!in) {
    FAIL("reference fixture " << path << " not found: set TAPEGRAD_REFERENCE_DIR to the folder "
         "holding ops.json, hvp.json, optim.json, nn.json and numpy_rng.json");
  }
  return nlohmann::json::parse(in);
}

/// A fixture tensor object ({"shape", "dtype", "data"}) as a tapegrad tensor (float64, int64, bool).
inline Tensor tensor_from_json(const nlohmann::json& t) {
  const std::string dtype = t.at("dtype");
  const auto& data = t.at("data");
  auto check_shape = [&](const auto& a) {
    std::vector<std::size_t> shape = t.at("shape").get<std::vector<std::size_t>>();
    REQUIRE(std::vector<std::size_t>(a.shape().begin(), a.shape().end()) == shape);
  };
  if (dtype == "float64") {
    xt::xarray<double> a;
    xt::from_json(data, a);
    check_shape(a);
    return Tensor(std::move(a));
  }
  if (dtype == "int64") {
    xt::xarray<std::int64_t> a;
    xt::from_json(data, a);
    check_shape(a);
    return Tensor(std::move(a));
  }
  if (dtype == "bool") {
    xt::xarray<bool> a;
    xt::from_json(data, a);
    check_shape(a);
    return Tensor(std::move(a));
  }
  FAIL("unknown fixture dtype " << dtype);
  return Tensor();
}

}  // namespace tg::testing
