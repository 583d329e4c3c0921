// Helpers shared by the integration tests: a fresh base directory per test,
// whether to run with the rulekeeper extension, and running rulectl.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sandbox/cluster.hpp"
#include "ports.hpp"

namespace rulekeeper::testing {

// Ports: each test file takes its range from tests/ports.txt through the
// generated ports.hpp (ports::integration_release[0], ...).

// With the extension unless RULEKEEPER_IT_EXTENSION=0 (plain clusters: for
// working on the fixture before the extension is installed).
bool with_extension();

// Cluster options for a new, empty base directory under /tmp named after the
// running test (world-traversable: as root the servers run as postgres).
cluster::ClusterOptions fresh_cluster_options();

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the rulectl built alongside these tests with `args`.
CommandResult run_rulectl(const std::vector<std::string>& args);

// When the environment variable `env_var` names a file, appends one rulectl
// run to it (test name, command without its --config, stdout, stderr, exit
// code): the examples in docs/ are copied from such transcripts.
void append_transcript(const char* env_var, const std::vector<std::string>& args, const CommandResult& r);

// Writes `text` to a file in a fresh temporary directory; returns its path.
std::filesystem::path write_temp_file(const std::string& name, const std::string& text);

}  // namespace rulekeeper::testing
