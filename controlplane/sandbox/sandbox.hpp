// The sandbox behind `rulectl sandbox up|down|demo`: the embedded default
// topology on loopback — e1, e2, ipc2 (E3 primary) and ipc1 (its streaming
// standby, the DR site), optionally ipc2b (ipc2's synchronous standby in
// AZ-b) — built with the same cluster fixture the integration tests use,
// and the rulectl.toml that points rulectl at it. Prints nothing: progress
// goes to the sink, the CLI renders the rest.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/output.hpp"
#include "sandbox/cluster.hpp"

namespace rulekeeper::sandbox {

constexpr int kDefaultPortBase = 54311;

struct Options {
  std::filesystem::path base = "/tmp/rulekeeper-sandbox";
  bool with_extension = true;
  int port_base = kDefaultPortBase;
  bool port_base_given = false;  // an explicit --port-base (a second `up` must not move the sandbox)
  bool with_ipc2b = false;
  // "" (rulectl promotes: the plain sandbox) or "patroni": IPC2 (ipc2 +
  // ipc2b) and IPC1 run by Patroni with one etcd (sandbox/patroni.hpp).
  std::string ha;
};

// The fixture's options for a sandbox base (absolute, normalised).
cluster::ClusterOptions cluster_options(const Options& options);

// The nodes of a sandbox made with `port_base` (ipc2b only when asked).
std::vector<cluster::NodeOptions> nodes(int port_base, bool with_ipc2b);

struct UpResult {
  cluster::ClusterOptions cluster;
  std::filesystem::path config_file;  // <base>/rulectl.toml
  std::string export_line;            // export RULECTL_CONFIG=<config_file, shell-quoted>
  bool already_up = false;            // it existed: only stopped nodes were started
  std::string portal_url;             // the admin portal (sandbox/portal.hpp), "" when it did not start
  std::string portal_error;           // why it did not (the sandbox is up all the same)
};

// Creates and starts the sandbox (or starts the stopped nodes of an existing
// one). A half-made sandbox of an earlier `up` is removed first; a base that
// a sandbox `up` did not make is refused (exit 3), as is moving an existing
// sandbox to another --port-base.
UpResult up(const Options& options, const common::ProgressSink& progress);

enum class DownResult { absent, removed };
// Stops every node of the sandbox at `options.base` and removes the
// directory — only one that a sandbox `up` made (its marker file).
DownResult down(const Options& options, const common::ProgressSink& progress);

// Whether `base` holds a sandbox (its marker file).
bool exists(const std::filesystem::path& base);

}  // namespace rulekeeper::sandbox
