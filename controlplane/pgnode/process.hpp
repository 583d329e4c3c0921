// Running external programs (initdb, pg_ctl, pg_basebackup, rulectl itself in
// tests) with an argv vector and fork/exec — never through a shell, because
// paths may contain spaces or quotes. Every run is bounded in time.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rulekeeper::process {

struct RunOptions {
  // Where the child's stdout and stderr go (appended). Empty: /dev/null.
  std::filesystem::path stdout_file;
  std::filesystem::path stderr_file;  // empty: same as stdout_file
  std::filesystem::path cwd;          // empty: inherit
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
  // Run as the postgres OS user (via `runuser -u postgres --`) when we are
  // root: initdb and pg_ctl refuse to run as root.
  bool as_postgres_if_root = false;
  // NAME=VALUE entries added to (or replacing in) the child's environment,
  // e.g. LC_ALL=C for tools whose output is parsed.
  std::vector<std::string> environment;
};

struct RunResult {
  int exit_code = -1;     // valid if !signaled && !timed_out
  bool signaled = false;  // killed by a signal (term_signal)
  int term_signal = 0;
  bool timed_out = false;  // we killed it after options.timeout
  bool ok() const { return !signaled && !timed_out && exit_code == 0; }
  std::string describe() const;  // "exit 1", "killed by signal 9", "timed out"
};

// Runs argv[0] (looked up on PATH if it has no slash) and waits for it.
// Throws std::runtime_error only if the program cannot be started at all.
RunResult run(const std::vector<std::string>& argv, const RunOptions& options);

// argv joined for messages and logs, each element shell-quoted if needed.
std::string quote_command(const std::vector<std::string>& argv);
std::string shell_quote(const std::string& word);

// True when this process runs as root (then clusters run as postgres).
bool running_as_root();

// chown -R to the postgres user (no-op unless root). Paths must exist.
void chown_to_postgres(const std::filesystem::path& path, bool recursive);

// Last max_bytes of a file, for error messages that point at a log.
std::string tail_of_file(const std::filesystem::path& path, std::size_t max_bytes = 2000);

}  // namespace rulekeeper::process
