// rulectl.toml: the topology rulectl knows (docs/design/contract.md "rulectl.toml").
// Lookup order: --config FILE, else $RULECTL_CONFIG, else ./rulectl.toml.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rulekeeper::config {

struct SiteConfig {
  std::string name;         // the [sites.NAME] key; should equal rulekeeper.site
  std::string conninfo;     // libpq conninfo or URI
  std::string environment;  // "e1", "e2" or "e3"
  bool dr = false;          // the disaster-recovery site (IPC1)
  // Only for clusters on this host (switchover, rejoin, sandbox).
  std::optional<std::string> pgdata;
  std::optional<std::string> start_command;
  std::optional<std::string> stop_command;
  std::string bindir;  // default: the server's bindir compiled in
  // The node's own settings file outside PGDATA (the server runs with
  // -c config_file=<it>): where failover/rejoin write primary_conninfo and
  // primary_slot_name. Unset: PGDATA/postgresql.auto.conf.
  std::optional<std::string> conf_file;
  // The HA manager that promotes and fences this E3 site: "" (rulectl does,
  // with the commands above) or "patroni" (docs/failover.md "With Patroni").
  std::string ha;
  // With ha = "patroni": the Patroni cluster (scope) the node belongs to and
  // its member's REST API ("http://127.0.0.1:8008"); the member name is the
  // site name.
  std::string patroni_cluster;
  std::string patroni_url;
  // Command templates for what must run on the site's own host when rulectl
  // runs elsewhere (pgnode/node_control.hpp; docs/ha-managers.md "Command
  // templates"): run through /bin/sh on rulectl's host, typically as `ssh
  // HOST ...`. Placeholders {source_conninfo}, {primary_conninfo},
  // {slot_name}, {dry_run}, {site} are substituted, shell-quoted. Unset and
  // pgdata set: the local default (pg_rewind / pg_controldata / settings
  // files on this host).
  std::optional<std::string> rewind_command;
  std::optional<std::string> controldata_command;
  std::optional<std::string> standby_command;
};

// [portal] (issue #19; docs/design/contract.md "rulectl.toml"): `rulectl
// portal` listens there. TLS when both files are given.
struct PortalConfig {
  std::string listen = "127.0.0.1:8480";  // loopback unless configured
  std::string tls_certificate;            // PEM certificate chain
  std::string tls_private_key;            // PEM private key
  double session_idle_minutes = 30;       // a session unused this long ends
};

struct Config {
  std::string path;               // the file it was read from
  std::string state_dir;          // receipts and orphan bundles
  std::vector<SiteConfig> sites;  // e1, e2, e3 primaries-to-be, then DR sites; by name within
  PortalConfig portal;

  const SiteConfig* find(const std::string& name) const;
};

// A config file that is missing, unparsable or wrong. main() exits 2 on it;
// the message names the file and, where there is one, the key.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The file to read: flag, else $RULECTL_CONFIG, else ./rulectl.toml.
std::string path_to_read(const std::string& flag_value);

Config load(const std::string& path);

// Where receipts go when the file does not say: $XDG_STATE_HOME/rulectl, else
// ~/.local/state/rulectl.
std::string default_state_dir();

}  // namespace rulekeeper::config
