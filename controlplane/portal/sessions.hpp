// The portal's sessions (issue #19 item 2). A session is the person logged
// in: a random id (the cookie rulekeeper_session), a random CSRF token every
// state-changing form carries, and the configuration with that person's
// PostgreSQL user and password in every site's conninfo — the portal
// connects as them, so PostgreSQL decides what they may do and the journal
// names them. The password lives only here, in this process's memory, for
// as long as the session: never written to disk, a log or a page; logging
// out or the idle timeout drops it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "site/config.hpp"

namespace rulekeeper::portal {

// `bytes` random bytes from OpenSSL's CSPRNG (RAND_bytes), as hex.
// Throws std::runtime_error when OpenSSL cannot provide them.
std::string random_token(std::size_t bytes = 32);

// Equal strings, in time independent of where they differ.
bool same_token(const std::string& a, const std::string& b);

// The configuration with `user` and `password` in place of every site's
// conninfo user/password (the rest of the conninfo as configured).
config::Config with_credentials(const config::Config& config, const std::string& user, const std::string& password);

struct Session {
  std::string id;
  std::string csrf_token;
  std::string user;
  config::Config config;  // as the user (with_credentials)
};

class SessionStore {
public:
  explicit SessionStore(std::chrono::milliseconds idle_timeout) : idle_(idle_timeout) {}

  std::shared_ptr<const Session> create(const std::string& user, config::Config config);

  enum class Found { none, expired, live };
  // The live session of that id (its idle clock restarted); an expired one
  // is forgotten (and reported as expired once).
  std::shared_ptr<const Session> find(const std::string& id, Found& found);
  void remove(const std::string& id);
  std::chrono::milliseconds idle_timeout() const { return idle_; }

private:
  struct Entry {
    std::shared_ptr<const Session> session;
    std::chrono::steady_clock::time_point last_seen;
  };
  void sweep(std::chrono::steady_clock::time_point now);  // under mu_

  std::chrono::milliseconds idle_;
  std::mutex mu_;
  std::map<std::string, Entry> sessions_;
};

}  // namespace rulekeeper::portal
