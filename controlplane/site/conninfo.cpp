// See conninfo.hpp.
#include "site/conninfo.hpp"

#include <libpq-fe.h>

#include <string>
#include <vector>

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

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// The host:port pairs of a multi-host conninfo (libpq: one port applies to
// every host; an empty entry is the default).
std::vector<std::pair<std::string, std::string>> addresses(const std::pair<std::string, std::string>& at) {
  const std::vector<std::string> hosts = split_list(at.first), ports = split_list(at.second);
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    std::string port = ports.size() == 1 ? ports[0] : i < ports.size() ? ports[i] : "";
    out.emplace_back(hosts[i], port.empty() ? "5432" : port);
  }
  return out;
}

}  // namespace

const config::SiteConfig* site_at(const config::Config& config, const std::string& host, const std::string& port,
                                  const std::string& except) {
  const std::string want_port = port.empty() ? "5432" : port;
  // A site whose conninfo names exactly this address first; then one whose
  // multi-host conninfo (host=a,b port=p,q: how applications reach an HA
  // cluster) lists it among others (docs/failover.md "Reaching a site
  // through several hosts").
  const config::SiteConfig* listed = nullptr;
  for (const auto& s : config.sites) {
    if (parse_environment(s.environment) != Environment::e3 || s.name == except) continue;
    std::pair<std::string, std::string> at;
    try {
      at = address(parse(s.conninfo, s.name));
    } catch (const std::exception&) {
      continue;
    }
    const auto all = addresses(at);
    for (const auto& [h, p] : all) {
      if (p != want_port || !(h == host || (loopback(h) && loopback(host)))) continue;
      if (all.size() == 1) return &s;
      if (listed == nullptr) listed = &s;
    }
  }
  return listed;
}

}  // namespace rulekeeper::conninfo
