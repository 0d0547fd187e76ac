// Running Python/NumPy programs from a test (shared by the serialize and xor tests).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace tg::testing {

/// A python3 that can import numpy ($TAPEGRAD_PYTHON, python3, /usr/bin/python3), or "".
inline std::string python_with_numpy() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TAPEGRAD_PYTHON"); env && *env) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& py : candidates)
    if (std::system((py + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

/// What a shell command prints on stdout, and its exit status (-1 when it could not be started).
struct CommandOutput {
  std::string out;
  int status = -1;
};
inline CommandOutput run_command(const std::string& command) {
  CommandOutput result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.out.append(buffer, n);
  result.status = ::pclose(pipe);
  return result;
}

}  // namespace tg::testing
