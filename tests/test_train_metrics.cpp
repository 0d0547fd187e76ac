// train: accuracy, confusion matrix, precision/recall, and the CSV metrics log.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "tapegrad/tapegrad.hpp"

using tg::training::ConfusionMatrix;

TEST_CASE("class_indices: int64 labels as given, score rows by argmax") {
  CHECK(tg::training::class_indices(tg::tensor({2, 0, 1}, tg::kInt64)) == std::vector<std::int64_t>{2, 0, 1});
  // Ties go to the first maximum, as numpy.argmax.
  const tg::Tensor scores = tg::tensor({{0.1, 0.7, 0.2}, {0.5, 0.5, 0.0}, {-3, -2, -1}});
  CHECK(tg::training::class_indices(scores) == std::vector<std::int64_t>{1, 0, 2});
  CHECK_THROWS_WITH(tg::training::class_indices(tg::zeros({2, 2, 2})), Catch::Contains("(N, C)"));
}

TEST_CASE("accuracy: counts matching rows in either form") {
  const tg::Tensor labels = tg::tensor({0, 1, 2, 1}, tg::kInt64);
  const tg::Tensor scores = tg::tensor({{9, 0, 0}, {0, 9, 0}, {0, 9, 0}, {0, 0, 9}});
  CHECK(tg::training::accuracy(scores, labels) == 0.5);
  CHECK(tg::training::accuracy(labels, labels) == 1.0);
  // One-hot targets (quadratic-cost models) work as labels too.
  CHECK(tg::training::accuracy(scores, tg::data::one_hot(labels, 3)) == 0.5);
  CHECK_THROWS_WITH(tg::training::accuracy(scores, tg::tensor({0, 1}, tg::kInt64)),
                    Catch::Contains("4 predictions for 2 labels"));
}

TEST_CASE("ConfusionMatrix: counts, precision and recall worked by hand") {
  // truth:     0 0 0 1 1 2 2 2 2
  // predicted: 0 0 1 1 2 2 2 2 0
  ConfusionMatrix m(3);
  m.add(std::vector<std::int64_t>{0, 0, 1, 1, 2, 2, 2, 2, 0}, std::vector<std::int64_t>{0, 0, 0, 1, 1, 2, 2, 2, 2});
  CHECK(m.count(0, 0) == 2);
  CHECK(m.count(0, 1) == 1);
  CHECK(m.count(1, 2) == 1);
  CHECK(m.count(2, 0) == 1);
  CHECK(m.total() == 9);
  CHECK(m.accuracy() == Approx(6.0 / 9.0));
  // Predicted as 0: three samples, two of them 0. Class 0 has three samples, two found.
  CHECK(m.precision(0) == Approx(2.0 / 3.0));
  CHECK(m.recall(0) == Approx(2.0 / 3.0));
  CHECK(m.precision(1) == Approx(1.0 / 2.0));
  CHECK(m.recall(1) == Approx(1.0 / 2.0));
  CHECK(m.precision(2) == Approx(3.0 / 4.0));
  CHECK(m.recall(2) == Approx(3.0 / 4.0));
  CHECK(m.f1(2) == Approx(0.75));

  const std::string table = m.to_string({"a", "b", "c"});
  CHECK_THAT(table, Catch::Contains("recall"));
  CHECK_THAT(table, Catch::Contains("precision"));
  CHECK_THAT(table, Catch::Contains("75.0%"));

  ConfusionMatrix empty(2);
  CHECK(empty.accuracy() == 0.0);
  CHECK(empty.precision(1) == 0.0);
  CHECK_THROWS_WITH(m.add(std::vector<std::int64_t>{3}, std::vector<std::int64_t>{0}),
                    Catch::Contains("classes must lie in [0, 3)"));
  CHECK_THROWS(ConfusionMatrix(0));
}

TEST_CASE("ConfusionMatrix: adding tensors of scores and labels") {
  ConfusionMatrix m(2);
  m.add(tg::tensor({{0.9, 0.1}, {0.2, 0.8}, {0.6, 0.4}}), tg::tensor({0, 1, 1}, tg::kInt64));
  CHECK(m.count(0, 0) == 1);
  CHECK(m.count(1, 1) == 1);
  CHECK(m.count(1, 0) == 1);
}

TEST_CASE("MetricsLog: CSV round trip, truncation and errors") {
  tg::training::MetricsLog log({"epoch", "loss", "accuracy"});
  log.append({1, 0.5, 0.9});
  log.append({2, 0.25, 0.95});
  log.append({3, 1.0 / 3.0, 0.96});
  CHECK_THROWS_WITH(log.append({4, 0.1}), Catch::Contains("2 values for 3 columns"));
  CHECK(log.to_csv() == "epoch,loss,accuracy\n1,0.5,0.9\n2,0.25,0.95\n3,0.3333333333,0.96\n");

  const std::string path = "test_metrics_log.csv";
  log.write(path);
  tg::training::MetricsLog again = tg::training::MetricsLog::read(path);
  CHECK(again.columns() == log.columns());
  REQUIRE(again.num_rows() == 3);
  CHECK(again.column("loss") == std::vector<double>{0.5, 0.25, 0.3333333333});
  again.truncate(2);
  CHECK(again.num_rows() == 2);
  CHECK_THROWS_WITH(again.column("nope"), Catch::Contains("columns: epoch, loss, accuracy"));

  std::ofstream(path) << "epoch,loss\n1,0.5\n2,oops\n";
  CHECK_THROWS_WITH(tg::training::MetricsLog::read(path), Catch::Contains("line 3 column 'loss': 'oops'"));
  std::ofstream(path) << "epoch,loss\n1\n";
  CHECK_THROWS_WITH(tg::training::MetricsLog::read(path), Catch::Contains("line 2 has 1 fields, expected 2"));
  std::remove(path.c_str());
  CHECK_THROWS_WITH(tg::training::MetricsLog::read(path), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(tg::training::MetricsLog({"a", "a"}), Catch::Contains("appears twice"));
  CHECK_THROWS(tg::training::MetricsLog({"a,b"}));
}
