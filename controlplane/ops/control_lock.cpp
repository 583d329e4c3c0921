// See control_lock.hpp.
#include "ops/control_lock.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "rulekeeper/lifecycle.hpp"
#include "site/client/control_lock.hpp"
#include "site/connect.hpp"
#include "site/server_error.hpp"

namespace client = rulekeeper::site::client;

namespace rulekeeper::ops {
namespace {

std::string os_user() {
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

}  // namespace

ControlLock::ControlLock(const config::Config& config, const std::string& action) {
  holder_ = fmt::format("rulectl {} by {}@{} pid {}", action, os_user(), host_name(), ::getpid());
  // What PostgreSQL keeps of it (NAMEDATALEN - 1 bytes): to tell our own
  // session from another's when one server is reached through two sites.
  const std::string kept = holder_.substr(0, 63);
  std::vector<std::string> unreachable;
  for (const auto& sc : config.sites) {
    if (parse_environment(sc.environment) != Environment::e3) continue;
    std::string err;
    auto c = site::try_connect(sc, err);
    if (!c) {
      unreachable.push_back(fmt::format("{} ({})", sc.name, common::one_line(err)));
      continue;
    }
    bool locked = false;
    std::optional<client::ControlLockHolder> other;
    try {
      locked = client::try_control_lock(*c, holder_);
      if (!locked) other = client::control_lock_holder(*c);
    } catch (const pqxx::failure& e) {
      throw site::sql_failure(fmt::format("the control lock at {}", sc.name), e);
    }
    if (!locked && other && other->application_name == kept) continue;  // this same server, locked by us already
    if (!locked) {
      const std::string who = other ? fmt::format("{} — connected as {} from {}, since {}, backend PID {} at {}",
                                                  other->application_name.empty() ? "a session without application_name"
                                                                                  : other->application_name,
                                                  other->user, other->client, other->since, other->pid, sc.name)
                                    : fmt::format("a session at {} not visible to this role", sc.name);
      throw common::ExitError(
          common::exit_refused,
          fmt::format("another failover or rejoin is running: {}; refusing to {} meanwhile (the E3 control lock, "
                      "pg_advisory_lock({}, {}), is held there)",
                      who, action, client::kControlLockClass, client::kControlLockObject));
    }
    sites_.push_back(sc.name);
    connections_.push_back(std::move(c));
  }
  if (sites_.empty())
    throw common::ExitError(common::exit_unreachable,
                            fmt::format("no E3 site answers, so the control lock that keeps two operators apart "
                                        "cannot be taken; refusing to {}: {}",
                                        action, fmt::join(unreachable, "; ")));
}

ControlLock::~ControlLock() {
  // Closing the sessions releases the lock; a site stopped meanwhile (the
  // old primary of a switchover) has closed its session already.
  for (auto& c : connections_) {
    try {
      c.reset();
    } catch (...) {
    }
  }
}

}  // namespace rulekeeper::ops
