// Nothing lost: a checkpoint save killed at any moment, or failing, leaves the previous checkpoint
// loadable; a training run killed mid-epoch and resumed from its last checkpoint ends with exactly
// the weights of an uninterrupted run. The kills are real SIGKILLs of child processes.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "tapegrad/tapegrad.hpp"
#include "tapegrad/xtensor.hpp"
#include "temp_files.hpp"

using namespace tg;
namespace fs = std::filesystem;

namespace {

using tg::testing::read_bytes;
using tg::testing::TempDir;
using tg::testing::write_bytes;

/// Temporary files save_tensors left behind for `path` ("<path>.tmp.<pid>").
std::size_t leftover_temporaries(const fs::path& dir, const std::string& name) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(name + ".tmp.", 0) == 0) ++n;
  return n;
}

/// A 1 MB checkpoint whose every value is `value`, so a load tells which save it came from.
std::map<std::string, Tensor> version(double value) {
  return {{"weight", full({256, 512}, value, kFloat64)},
          {"step", Tensor(xt::xarray<std::int64_t>(static_cast<std::int64_t>(value)))}};
}

/// The version a loaded checkpoint holds, after checking that it is complete and consistent.
double version_of(const std::map<std::string, Tensor>& loaded) {
  REQUIRE(loaded.size() == 2);
  const auto& w = loaded.at("weight").value<double>();
  REQUIRE(w.shape() == xt::xarray<double>::shape_type{256, 512});
  const double v = w(0, 0);
  REQUIRE(std::all_of(w.begin(), w.end(), [v](double e) { return e == v; }));
  REQUIRE(loaded.at("step").item() == v);
  return v;
}

/// Waits for a child and returns its status.
int wait_for(pid_t child) {
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

/// Runs argv as a child process; returns its pid (stdout and stderr go to the test's).
pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST_CASE("recovery: a checkpoint save killed at random moments leaves a complete checkpoint", "[recovery]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.npz");
  nn::save_tensors(path, version(0));
  std::mt19937_64 gen(2024);
  int mid_save = 0, kills = 0;
  double last = 0;
  for (int round = 1; round <= 16; ++round) {
    // The child saves new versions over the same path as fast as it can (each save builds a
    // 1 MB archive, writes it and fsyncs it); the parent kills it at a random moment, or at a
    // random moment shortly after a save has created its temporary file.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (int v = round * 1000;; ++v) nn::save_tensors(path, version(v));
    }
    if (round % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(1000 + gen() % 100000));
    } else {
      // Aim inside a save: wait until its temporary file exists, then kill within a millisecond
      // or two (while it is written, fsync'ed or renamed).
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (leftover_temporaries(dir.path, "ckpt.npz") == 0 && std::chrono::steady_clock::now() < deadline) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(gen() % 2000));
    }
    ::kill(child, SIGKILL);
    const int status = wait_for(child);
    REQUIRE(WIFSIGNALED(status));
    ++kills;
    // Whatever the moment, the path holds one complete version: the previous round's last one
    // or a newer one from this round, never a mixture or a torn file.
    const double v = version_of(nn::load_tensors(path));
    CHECK((v == last || (v >= round * 1000 && v < round * 1000 + 1000000)));
    last = v;
    const std::size_t temporaries = leftover_temporaries(dir.path, "ckpt.npz");
    if (temporaries > 0) ++mid_save;  // killed between creating its temporary file and the rename
    for (const auto& e : fs::directory_iterator(dir.path))
      if (e.path().filename() != "ckpt.npz") fs::remove(e.path());
  }
  std::cout << "recovery: " << kills << " saves killed, " << mid_save
            << " of them after the temporary file was created; the checkpoint loaded every time\n";
  CHECK(mid_save > 0);  // the kills did land inside saves, not only between them
}

TEST_CASE("recovery: a failing checkpoint write raises and leaves the previous checkpoint", "[recovery]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.npz");
  nn::save_tensors(path, version(1));
  const std::string previous = read_bytes(path);

  SECTION("the write fails part-way (file size limit: EFBIG, as a full disk gives ENOSPC)") {
    // In a child, since the limit applies to the whole process.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::signal(SIGXFSZ, SIG_IGN);  // so write() fails with EFBIG instead of killing the process
      rlimit fsize{1 << 20, 1 << 20};
      ::setrlimit(RLIMIT_FSIZE, &fsize);
      try {
        nn::save_tensors(path, version(2));
      } catch (const Error& e) {
        const std::string msg = e.what();
        const bool clear = msg.rfind("save_tensors: writing " + path + ".tmp.", 0) == 0 &&
                           msg.find("File too large") != std::string::npos;
        ::_exit(clear ? 0 : 4);
      }
      ::_exit(3);  // the save went through: the limit did not bite
    }
    const int status = wait_for(child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  SECTION("the rename fails (the destination is a non-empty directory)") {
    const std::string blocked = dir.file("blocked.npz");
    fs::create_directories(fs::path(blocked) / "inside");
    CHECK_THROWS_WITH(nn::save_tensors(blocked, version(2)),
                      Catch::StartsWith("save_tensors: cannot rename " + blocked + ".tmp.") &&
                          Catch::Contains("to " + blocked));
    CHECK(fs::is_directory(blocked));
  }
  SECTION("the temporary file cannot be created (the directory is gone)") {
    CHECK_THROWS_WITH(nn::save_tensors(dir.file("gone/ckpt.npz"), version(2)),
                      Catch::StartsWith("save_tensors: cannot create") && Catch::Contains("gone/ckpt.npz.tmp."));
  }
  // Every failure cleaned up its temporary file and left the previous checkpoint as it was.
  CHECK(leftover_temporaries(dir.path, "ckpt.npz") == 0);
  CHECK(leftover_temporaries(dir.path, "blocked.npz") == 0);
  CHECK(read_bytes(path) == previous);
  CHECK(version_of(nn::load_tensors(path)) == 1);
}

TEST_CASE("recovery: a training run killed mid-epoch resumes to exactly the uninterrupted weights", "[recovery]") {
  const std::string child = TAPEGRAD_TRAIN_RESUME_CHILD;
  TempDir reference, interrupted;
  // The uninterrupted run.
  REQUIRE(WIFEXITED(wait_for(spawn({child, reference.path.string()}))));
  const std::string reference_final = reference.file("final.npz");
  REQUIRE(fs::exists(reference_final));

  // The same run, killed twice: shortly after its first checkpoint, then (resumed) shortly after
  // its fourth, so the kills land between checkpoints (one in the first epoch, one in the second),
  // with steps done that the checkpoint does not hold.
  const std::string checkpoint = interrupted.file("checkpoint.npz");
  std::vector<std::string> resumed_from;
  for (int kill = 0; kill < 2; ++kill) {
    std::vector<std::string> args{child, interrupted.path.string(), "--step-delay-ms", "15"};
    if (kill > 0) args.push_back("--resume");
    const pid_t pid = spawn(args);
    auto seen = fs::exists(checkpoint) ? fs::last_write_time(checkpoint) : fs::file_time_type::min();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int checkpoints = 0; checkpoints < (kill == 0 ? 1 : 4) && std::chrono::steady_clock::now() < deadline;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::error_code ec;  // the rename may race with the query
      const auto t = fs::last_write_time(checkpoint, ec);
      if (!ec && t != seen) seen = t, ++checkpoints;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // about one step past the checkpoint
    ::kill(pid, SIGKILL);
    const int status = wait_for(pid);
    INFO("kill " << kill);
    REQUIRE(WIFSIGNALED(status));  // it was still running: the kill interrupted it
    CHECK(!fs::exists(interrupted.file("final.npz")));
    const auto progress = nn::strip_prefix("progress.", nn::load_tensors(checkpoint));
    resumed_from.push_back("epoch " + std::to_string(progress.at("epoch").item<int>()) + " batch " +
                           std::to_string(progress.at("batch").item<int>()));
  }
  // Resume to the end.
  const int status = wait_for(spawn({child, interrupted.path.string(), "--resume"}));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  const auto expected = nn::load_tensors(reference_final), got = nn::load_tensors(interrupted.file("final.npz"));
  REQUIRE(expected.size() == got.size());
  for (const auto& [name, t] : expected) {
    INFO(name);
    const auto& a = t.value<float>();
    const auto& b = got.at(name).value<float>();
    REQUIRE(a.shape() == b.shape());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
  CHECK(read_bytes(reference_final) == read_bytes(interrupted.file("final.npz")));
  std::cout << "recovery: training killed twice, resumed from " << resumed_from[0] << " and " << resumed_from[1]
            << "; final weights bit-identical to the uninterrupted run\n";
}
