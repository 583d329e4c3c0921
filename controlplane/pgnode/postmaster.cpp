// See postmaster.hpp.
#include "pgnode/postmaster.hpp"

#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/poll.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace rulekeeper::pgnode {
namespace {

// State letter from /proc/PID/stat ('Z' zombie), or '\0' if there is no such
// process. The command name sits in parentheses and may contain spaces.
char proc_state(int pid, int* ppid = nullptr, std::string* comm = nullptr) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return '\0';
  auto open = line.find('(');
  auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= line.size()) return '\0';
  if (comm) *comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 2));
  char state = '\0';
  int parent = 0;
  rest >> state >> parent;
  if (ppid) *ppid = parent;
  return state;
}

}  // namespace

int pid_in_lock_file(const fs::path& pgdata) {
  std::ifstream in(pgdata / "postmaster.pid");
  int pid = 0;
  if (!in || !(in >> pid) || pid <= 0) return 0;
  return pid;
}

int postmaster_pid(const fs::path& pgdata) {
  const int pid = pid_in_lock_file(pgdata);
  if (pid == 0) return 0;
  std::string comm;
  const char state = proc_state(pid, nullptr, &comm);
  // A reused PID of an unrelated process, or a zombie, is not our server.
  if (state == '\0' || state == 'Z' || comm.rfind("postgres", 0) != 0) return 0;
  return pid;
}

std::vector<int> children_of(int parent) {
  std::vector<int> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const int pid = std::atoi(name.c_str());
    int ppid = 0;
    if (proc_state(pid, &ppid) != '\0' && ppid == parent) out.push_back(pid);
  }
  return out;
}

bool pid_gone(int pid) {
  if (::kill(pid, 0) == 0) return false;
  if (errno != ESRCH) return false;  // EPERM: exists, someone else's
  return !fs::exists("/proc/" + std::to_string(pid));
}

bool wait_gone(const std::vector<int>& pids, std::chrono::seconds timeout) {
  return common::poll_until(timeout, 50ms, [&] {
    for (int p : pids)
      if (!pid_gone(p)) return false;
    return true;
  });
}

void wait_zombie_reaped(const fs::path& pgdata, const std::string& site, std::chrono::seconds timeout) {
  const int pid = pid_in_lock_file(pgdata);
  if (pid == 0 || proc_state(pid) != 'Z') return;
  if (!wait_gone({pid}, timeout))
    throw common::ExitError(common::exit_failed,
                            fmt::format("the dead postmaster (PID {}) of site {} is still a zombie after {}s: its "
                                        "lock file counts as alive and the server cannot start yet",
                                        pid, site, timeout.count()));
}

int kill_postmaster(const fs::path& pgdata, const std::string& site, std::chrono::seconds timeout) {
  const int pid = postmaster_pid(pgdata);
  if (pid == 0) throw common::ExitError(common::exit_failed, "kill -9: site " + site + " is not running");
  std::vector<int> victims = children_of(pid);
  ::kill(pid, SIGKILL);
  // Its backends would die on their own when they notice; a crashed host
  // does not wait for them, and a new postmaster refuses to start while they
  // still hold the old shared memory.
  for (int child : victims) ::kill(child, SIGKILL);
  const int children = static_cast<int>(victims.size());
  victims.push_back(pid);
  if (!wait_gone(victims, timeout))
    throw common::ExitError(common::exit_failed,
                            fmt::format("timed out after {}s waiting for the killed postmaster (PID {}) of site {} "
                                        "and its children to be gone (a zombie keeps the lock file alive)",
                                        timeout.count(), pid, site));
  return children;
}

}  // namespace rulekeeper::pgnode
