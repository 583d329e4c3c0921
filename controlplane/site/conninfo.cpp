// See conninfo.hpp.
#include "site/conninfo.hpp"

#include <libpq-fe.h>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "rulekeeper/lifecycle.hpp"

namespace rulekeeper::conninfo {
namespace {

bool loopback(const std::string& host) {
  return host.empty() || host == "localhost" || host == "127.0.0.1" || host == "::1" || host[0] == '/';
}

}  // namespace

std::map<std::string, std::string> parse(const std::string& conninfo, const std::string& site) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err ? common::one_line(err) : "out of memory";
    if (err) PQfreemem(err);
    throw common::ExitError(common::exit_usage, fmt::format("sites.{}.conninfo does not parse: {}", site, msg));
  }
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0') out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

std::string build(const std::map<std::string, std::string>& keywords) {
  std::string out;
  for (const auto& [k, v] : keywords) {
    std::string q = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    q += "'";
    if (!out.empty()) out += ' ';
    out += k + "=" + q;
  }
  return out;
}

std::pair<std::string, std::string> address(const std::map<std::string, std::string>& kw) {
  auto get = [&](const char* k) {
    auto it = kw.find(k);
    return it == kw.end() ? std::string() : it->second;
  };
  std::string host = get("hostaddr");
  if (host.empty()) host = get("host");
  std::string port = get("port");
  return {host, port.empty() ? "5432" : port};
}

std::string for_standby(const config::SiteConfig& upstream, const std::string& standby_site) {
  auto kw = parse(upstream.conninfo, upstream.name);
  for (const char* drop :
       {"dbname", "application_name", "fallback_application_name", "options", "replication", "target_session_attrs"})
    kw.erase(drop);
  kw["application_name"] = standby_site;
  return build(kw);
}

const config::SiteConfig* site_at(const config::Config& config, const std::string& host, const std::string& port,
                                  const std::string& except) {
  const std::string want_port = port.empty() ? "5432" : port;
  for (const auto& s : config.sites) {
    if (parse_environment(s.environment) != Environment::e3 || s.name == except) continue;
    std::pair<std::string, std::string> at;
    try {
      at = address(parse(s.conninfo, s.name));
    } catch (const std::exception&) {
      continue;
    }
    if (at.second != want_port) continue;
    if (at.first == host || (loopback(at.first) && loopback(host))) return &s;
  }
  return nullptr;
}

}  // namespace rulekeeper::conninfo
