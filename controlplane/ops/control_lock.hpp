// The lock that keeps two failovers or rejoins from running at once — from
// any host (issue #16 item 4; docs/ha-managers.md "The control lock"). It
// lives in the E3 servers, not in a local directory: a session-level
// advisory lock (site/client/control_lock.hpp) taken, without waiting, on a
// dedicated connection to EVERY E3 site that answers, and held until the
// verb ends (the connections close; a killed rulectl's sessions end and free
// it). On every reachable one, because failover promotes a site other than
// the primary and the old primary may be down: a failover with ipc2 dead
// holds it at ipc1 and ipc2b, a rejoin at the new primary and the returning
// node — any two verbs that can reach a common E3 site exclude each other.
// A site already held is refused (exit 3) naming the holder: its
// application_name "rulectl failover by alice@ops1 pid 4242", where it
// connected from and since when. No E3 site answering: exit 4.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "site/config.hpp"

namespace rulekeeper::ops {

class ControlLock {
public:
  ControlLock(const config::Config& config, const std::string& action);
  ~ControlLock();
  ControlLock(const ControlLock&) = delete;
  ControlLock& operator=(const ControlLock&) = delete;

  // "rulectl failover by alice@ops1 pid 4242": this holder's name.
  const std::string& holder() const { return holder_; }
  // The sites it is held at.
  const std::vector<std::string>& sites() const { return sites_; }

private:
  std::string holder_;
  std::vector<std::string> sites_;
  std::vector<std::unique_ptr<pqxx::connection>> connections_;
};

}  // namespace rulekeeper::ops
