// The postmaster of a data directory as /proc and PGDATA/postmaster.pid show
// it. A killed postmaster stays a zombie until its parent reaps it, and its
// PID in the lock file then still counts as alive: a new server refuses to
// start (docs/design/postgres-traps.md "A crashed primary coming back") — so
// liveness here ignores zombies, and "gone" means not even a zombie.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace rulekeeper::pgnode {

// The PID in PGDATA/postmaster.pid (0 if there is none), alive or not.
int pid_in_lock_file(const std::filesystem::path& pgdata);

// The PID of a live postmaster of PGDATA: 0 if none, if it is a zombie, or if
// the PID now belongs to a process that is not postgres.
int postmaster_pid(const std::filesystem::path& pgdata);

// The PIDs whose parent is `pid` (its backends and auxiliary processes).
std::vector<int> children_of(int pid);

// No such process, not even a zombie.
bool pid_gone(int pid);

// Waits (bounded) until a dead postmaster named by the lock file is reaped;
// common::ExitError(exit_failed) naming `site` if it stays a zombie. No-op
// when the lock file names no zombie.
void wait_zombie_reaped(const std::filesystem::path& pgdata, const std::string& site,
                        std::chrono::seconds timeout = std::chrono::seconds(30));

// Waits (bounded) until every PID is gone; false if one is left.
bool wait_gone(const std::vector<int>& pids, std::chrono::seconds timeout);

// SIGKILL the postmaster and its children (a host crash for this node), then
// wait until every one of them is gone. Returns the number of children
// killed; common::ExitError if the node is not running or a process stays.
int kill_postmaster(const std::filesystem::path& pgdata, const std::string& site,
                    std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace rulekeeper::pgnode
