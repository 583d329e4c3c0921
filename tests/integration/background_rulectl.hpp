// A rulectl run in the background whose stdout a test reads while it runs
// (watch, a hotfix --sync facing a frozen standby), and the two small helpers
// such tests poll with. Shared by test_watch.cpp and test_frozen_sites.cpp.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "failover_support.hpp"
#include "pgnode/process.hpp"

namespace rulekeeper::testing::fo {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Until `pred` holds (polled every 100 ms), at most `limit`.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

// Bounded: the run is killed after `limit`. The destructor waits for it, so
// it never outlives the test, also when an assertion failed. `name` names
// its stdout/stderr files in the test's temporary directory.
class Background {
public:
  Background(const std::string& name, const std::vector<std::string>& args,
             std::chrono::seconds limit = std::chrono::seconds(300))
      : dir_(write_temp_file(name + ".args", "").parent_path()) {
    out_ = dir_ / (name + ".stdout");
    err_ = dir_ / (name + ".stderr");
    std::filesystem::remove(out_);
    std::filesystem::remove(err_);
    args_ = args;
    std::vector<std::string> argv{RULECTL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    process::RunOptions ro;
    ro.stdout_file = out_;
    ro.stderr_file = err_;
    ro.timeout = limit;
    result_ = std::async(std::launch::async, [argv, ro] { return process::run(argv, ro); });
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() {
    if (result_.valid()) result_.wait();
  }
  std::string out() const { return read_text(out_); }
  bool running() const { return result_.wait_for(std::chrono::seconds(0)) != std::future_status::ready; }
  // Until stdout contains `needle` (false: the run ended or `limit` passed first).
  bool wait_for_output(const std::string& needle, std::chrono::seconds limit = std::chrono::seconds(60)) {
    return wait_until([&] { return contains(out(), needle) || !running(); }, limit) && contains(out(), needle);
  }
  CommandResult finish() {
    const process::RunResult r = result_.get();
    CommandResult c;
    c.exit_code = (r.signaled || r.timed_out) ? -1 : r.exit_code;
    c.out = read_text(out_);
    c.err = read_text(err_);
    // docs/failover.md quotes these (RULEKEEPER_FAILOVER_TRANSCRIPT=FILE).
    append_transcript("RULEKEEPER_FAILOVER_TRANSCRIPT", args_, c);
    return c;
  }

private:
  std::vector<std::string> args_;
  std::filesystem::path dir_, out_, err_;
  std::future<process::RunResult> result_;
};

}  // namespace rulekeeper::testing::fo
