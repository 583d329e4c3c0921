// See sessions.hpp.
#include "portal/sessions.hpp"

#include <stdexcept>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "site/conninfo.hpp"

namespace rulekeeper::portal {

std::string random_token(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1)
    throw std::runtime_error("OpenSSL could not provide random bytes for a session id");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : buf) out += hex[b >> 4], out += hex[b & 15];
  return out;
}

bool same_token(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

config::Config with_credentials(const config::Config& config, const std::string& user, const std::string& password) {
  config::Config out = config;
  for (auto& site : out.sites) {
    auto keywords = conninfo::parse(site.conninfo, site.name);
    keywords["user"] = user;
    keywords["password"] = password;
    // A passfile or service could name another user's password: the
    // person's own credentials are the ones that count.
    keywords.erase("passfile");
    site.conninfo = conninfo::build(keywords);
  }
  return out;
}

std::shared_ptr<const Session> SessionStore::create(const std::string& user, config::Config config) {
  auto s = std::make_shared<Session>();
  s->id = random_token();
  s->csrf_token = random_token();
  s->user = user;
  s->config = std::move(config);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  sweep(now);
  sessions_[s->id] = {s, now};
  return s;
}

std::shared_ptr<const Session> SessionStore::find(const std::string& id, Found& found) {
  found = Found::none;
  if (id.empty()) return nullptr;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  if (!it->second.session || now - it->second.last_seen > idle_) {
    sessions_.erase(it);
    found = Found::expired;
    return nullptr;
  }
  it->second.last_seen = now;
  found = Found::live;
  return it->second.session;
}

void SessionStore::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
}

// An expired session's credentials are dropped at once; a tombstone stays
// for another idle period so that its cookie still gets "your session
// expired" rather than a bare login page.
void SessionStore::sweep(std::chrono::steady_clock::time_point now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const auto idle = now - it->second.last_seen;
    if (idle > 2 * idle_) {
      it = sessions_.erase(it);
      continue;
    }
    if (idle > idle_) it->second.session.reset();
    ++it;
  }
}

}  // namespace rulekeeper::portal
