// Test helpers: per-test base directories, the extension switch, rulectl runs.
#include "test_support.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "pgnode/process.hpp"

namespace fs = std::filesystem;

namespace rulekeeper::testing {
namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /tmp/rk-it-<pid>-<test name>: short (socket paths are limited to ~107
// bytes) and unique per test run.
fs::path test_dir(const std::string& suffix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "x";
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  if (name.size() > 40) name.resize(40);
  fs::path dir = fs::path("/tmp") / ("rk-it-" + std::to_string(::getpid()) + "-" + name + suffix);
  return dir;
}

}  // namespace

bool with_extension() {
  const char* v = std::getenv("RULEKEEPER_IT_EXTENSION");
  return !(v != nullptr && std::string(v) == "0");
}

cluster::ClusterOptions fresh_cluster_options() {
  cluster::ClusterOptions o;
  o.base = test_dir("");
  fs::remove_all(o.base);
  o.with_extension = with_extension();
  return o;
}

void append_transcript(const char* env_var, const std::vector<std::string>& args, const CommandResult& r) {
  const char* path = std::getenv(env_var);
  if (path == nullptr || *path == '\0') return;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::ofstream out(path, std::ios::app);
  out << "### " << (info ? info->name() : "?") << "\n$ rulectl";
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config") {  // the test's own rulectl.toml: RULECTL_CONFIG in the docs
      ++i;
      continue;
    }
    out << " " << (args[i].find(' ') != std::string::npos || args[i].empty() ? "'" + args[i] + "'" : args[i]);
  }
  out << "\n" << r.out;
  if (!r.err.empty()) out << "[stderr]\n" << r.err;
  out << "[exit " << r.exit_code << "]\n\n";
}

CommandResult run_rulectl(const std::vector<std::string>& args) {
  fs::path dir = test_dir("-out");
  fs::create_directories(dir);
  std::vector<std::string> argv{RULECTL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  process::RunOptions opts;
  opts.stdout_file = dir / "stdout";
  opts.stderr_file = dir / "stderr";
  fs::remove(opts.stdout_file);
  fs::remove(opts.stderr_file);
  opts.timeout = std::chrono::seconds(60);
  process::RunResult r = process::run(argv, opts);
  CommandResult out;
  out.exit_code = (r.signaled || r.timed_out) ? -1 : r.exit_code;
  out.out = read_file(opts.stdout_file);
  out.err = read_file(opts.stderr_file);
  fs::remove_all(dir);
  return out;
}

fs::path write_temp_file(const std::string& name, const std::string& text) {
  fs::path dir = test_dir("-files");
  fs::create_directories(dir);
  fs::path p = dir / name;
  std::ofstream(p) << text;
  return p;
}

}  // namespace rulekeeper::testing
