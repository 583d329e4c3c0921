// A program an integration test starts (rulectl gateway, rulectl portal,
// rulectl watch, postgres_exporter) and stops in any case, also when the
// test fails: SIGTERM, then SIGKILL after a grace; its output in a log file
// the test can print. One class for every such test (test_monitoring,
// test_gateway, test_portal).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

extern char** environ;

namespace rulekeeper::testing {

// A program the test starts with extra environment and stops in any case:
// SIGTERM, then SIGKILL after a grace.
class Daemon {
public:
  Daemon(const std::string& name, const std::vector<std::string>& argv, const std::vector<std::string>& env = {})
      : log_(rulekeeper::testing::write_temp_file(name + ".log", "")) {
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
    envs.insert(envs.end(), env.begin(), env.end());
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_APPEND);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> a, e;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      for (const auto& s : envs) e.push_back(const_cast<char*>(s.c_str()));
      e.push_back(nullptr);
      execve(a[0], a.data(), e.data());
      _exit(127);
    }
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon() { stop(); }

  bool running() {
    if (done_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      done_ = true;
      status_ = status;
      return false;
    }
    return true;
  }
  // SIGTERM, up to `grace`, then SIGKILL. The exit code, or -signal.
  int stop(std::chrono::seconds grace = std::chrono::seconds(15)) {
    if (running()) {
      kill(pid_, SIGTERM);
      const auto end = std::chrono::steady_clock::now() + grace;
      while (running() && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (running()) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status_, 0);
        done_ = true;
      }
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -WTERMSIG(status_);
  }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  bool done_ = false;
  int status_ = 0;
};

}  // namespace rulekeeper::testing
