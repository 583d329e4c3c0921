// IPC2 and IPC1 run by Patroni with one etcd, all on loopback: the harness
// of `rulectl sandbox up --ha patroni`, its tour and the Patroni tests
// (docs/failover.md "With Patroni").
//
//   IPC2: Patroni cluster "ipc2", members ipc2 (AZ-a) and ipc2b (AZ-b),
//         synchronous_mode: true (every acknowledged commit is in both AZs);
//   IPC1: Patroni cluster "ipc1", member ipc1, a standby cluster following
//         IPC2 (standby_cluster in its dynamic configuration: host list
//         ipc2,ipc2b so it follows whichever is the leader).
//
// Each member runs the cluster fixture's node conf (cluster.hpp) as
// Patroni's custom_conf: rulekeeper in shared_preload_libraries and the
// node's own rulekeeper.site / environment e3 / signing key. Timings are
// tightened (ttl 5 s, loop_wait 1 s, retry_timeout 2 s,
// master_start_timeout 0: a crashed leader is failed over, not restarted).
//
// Ports: port_base+2/+3/+4 PostgreSQL of ipc2/ipc1/ipc2b (as the plain
// sandbox), +5/+6/+7 their REST APIs, +8/+9 etcd client/peer. Patroni
// and etcd run as the postgres OS user when we are root, detached, each
// with a PID file under <base>/patroni/; stop_all() ends them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/output.hpp"
#include "sandbox/cluster.hpp"

namespace rulekeeper::sandbox::patroni {

struct Member {
  std::string site;     // member name = rulekeeper.site
  std::string cluster;  // Patroni scope
  int pg_port_offset;
  int rest_port_offset;
  bool dr;
};

// ipc2, ipc2b, ipc1 in the order they are made.
const std::vector<Member>& members();

int rest_port(int port_base, const Member& m);
int etcd_port(int port_base);
std::string rest_url(int port_base, const Member& m);

// etcd, then the three members (Patroni bootstraps ipc2; the database and
// extension are created there before ipc2b and ipc1 copy it). The nodes are
// added to `set` (for trust_signing_keys and teardown). `rulectl` is the
// binary named in the on_role_change callback.
void up(cluster::ClusterSet& set, int port_base, const std::string& rulectl, const common::ProgressSink& progress);

// Starts a member's Patroni (or etcd: site "etcd") again if it does not run.
void start_daemon(const std::filesystem::path& base, const std::string& name);
// SIGKILL a member's Patroni and then its postmaster: the host is gone.
void kill_member(const std::filesystem::path& base, const std::string& site);
// SIGTERM every Patroni (Patroni stops its PostgreSQL), then etcd; SIGKILL
// what is left after 30 s. Safe to call when nothing runs.
void stop_all(const std::filesystem::path& base);
// PATCH /config (a JSON merge patch) through member `site`'s REST API, as an
// operator would with curl; throws when Patroni does not accept it.
void patch_config(const std::filesystem::path& base, const std::string& site, const std::string& patch);
// PID of a daemon of the sandbox at `base` if it runs, else 0.
int daemon_pid(const std::filesystem::path& base, const std::string& name);

// Stops every daemon when it goes out of scope unless released: a failing
// `up` or test leaves no Patroni or etcd behind.
class Guard {
public:
  explicit Guard(std::filesystem::path base) : base_(std::move(base)) {}
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  void release() { released_ = true; }

private:
  std::filesystem::path base_;
  bool released_ = false;
};

}  // namespace rulekeeper::sandbox::patroni
