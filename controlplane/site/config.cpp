// Reading and checking rulectl.toml. Unknown keys are errors: a typo such as
// `enviroment` would otherwise silently leave a site without an environment.
#include "site/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <libpq-fe.h>
#include <toml++/toml.h>

#include "rulekeeper/lifecycle.hpp"

namespace rulekeeper::config {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& key, const std::string& what) {
  throw ConfigError(fmt::format("{}: {}: {}", path, key, what));
}

// A conninfo libpq cannot parse (a misspelt keyword, a stray quote) is a
// mistake in this file: refused when the file is read, for every verb, rather
// than reported as the site being unreachable (exit 4) by whichever verb
// happens to connect first (issue 15 item 17).
void check_conninfo(const std::string& path, const std::string& key, const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts != nullptr) {
    PQconninfoFree(opts);
    return;
  }
  std::string msg = err != nullptr ? err : "out of memory";
  if (err != nullptr) PQfreemem(err);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  fail(path, key, "does not parse: " + msg);
}

std::string required_string(const std::string& path, const toml::table& t, const std::string& key,
                            const std::string& qualified) {
  const toml::node* n = t.get(key);
  if (n == nullptr) fail(path, qualified, "missing (a string is required)");
  auto v = n->value<std::string>();
  if (!n->is_string() || !v) fail(path, qualified, "must be a string");
  if (v->empty()) fail(path, qualified, "must not be empty");
  return *v;
}

std::optional<std::string> optional_string(const std::string& path, const toml::table& t, const std::string& key,
                                           const std::string& qualified) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::nullopt;
  if (!n->is_string()) fail(path, qualified, "must be a string");
  return n->value<std::string>();
}

void reject_unknown(const std::string& path, const toml::table& t, const std::string& prefix,
                    const std::set<std::string>& known) {
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    if (!known.count(key))
      fail(path, prefix + key, fmt::format("unknown key (known: {})", fmt::join(known.begin(), known.end(), ", ")));
  }
}

int environment_rank(const std::string& env) {
  return static_cast<int>(parse_environment(env).value_or(Environment::e3));
}

// Site names that would read as something else. `e3` as a site argument
// means the E3 primary (site/topology.hpp), so no site may be called e3; a
// site called like an environment must belong to it (the sandbox's e1 and
// e2 do), or `--site e2` would silently mean a site of another environment.
void check_site_name(const std::string& path, const SiteConfig& site) {
  const auto named_env = parse_environment(site.name);
  if (!named_env) return;
  if (*named_env == Environment::e3)
    fail(path, "sites." + site.name,
         "a site may not be called e3: `e3` means the E3 primary wherever a site is named (call it after its "
         "data centre, e.g. ipc2)");
  if (site.environment != site.name)
    fail(path, "sites." + site.name + ".environment",
         fmt::format("a site called like the environment {} must be in it (it says {})", site.name, site.environment));
}

// A template naming a placeholder rulectl does not fill is a typo
// ({source_conninfo} spelt {source}): refused when the file is read. A
// placeholder is {name} with name of [a-z_]; the shell's ${name} and {a,b}
// are left alone (pgnode/node_control.hpp expands the same way).
void check_template(const std::string& path, const std::string& key, const std::optional<std::string>& tmpl,
                    const std::set<std::string>& allowed) {
  if (!tmpl) return;
  if (tmpl->empty()) fail(path, key, "must not be empty");
  for (std::size_t at = 0; (at = tmpl->find('{', at)) != std::string::npos; ++at) {
    if (at > 0 && (*tmpl)[at - 1] == '$') continue;
    std::size_t end = at + 1;
    while (end < tmpl->size() && (std::islower(static_cast<unsigned char>((*tmpl)[end])) || (*tmpl)[end] == '_')) ++end;
    if (end == at + 1 || end >= tmpl->size() || (*tmpl)[end] != '}') continue;
    const std::string name = tmpl->substr(at + 1, end - at - 1);
    if (!allowed.count(name))
      fail(path, key,
           fmt::format("unknown placeholder {{{}}} (known here: {})", name,
                       fmt::join(allowed.begin(), allowed.end(), ", ")));
  }
}

void check_templates(const std::string& path, const std::string& p, const SiteConfig& site) {
  check_template(path, p + "controldata_command", site.controldata_command, {"site"});
  check_template(path, p + "rewind_command", site.rewind_command, {"site", "source_conninfo", "dry_run"});
  check_template(path, p + "standby_command", site.standby_command, {"site", "primary_conninfo", "slot_name"});
  if (site.rewind_command && site.rewind_command->find("{source_conninfo}") == std::string::npos)
    fail(path, p + "rewind_command", "must contain {source_conninfo} (the server pg_rewind copies from)");
  if (site.standby_command && (site.standby_command->find("{primary_conninfo}") == std::string::npos ||
                               site.standby_command->find("{slot_name}") == std::string::npos))
    fail(path, p + "standby_command", "must contain {primary_conninfo} and {slot_name}");
}

}  // namespace

const SiteConfig* Config::find(const std::string& name) const {
  for (const auto& s : sites)
    if (s.name == name) return &s;
  return nullptr;
}

std::string path_to_read(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv("RULECTL_CONFIG"); env != nullptr && *env != '\0') return env;
  return "rulectl.toml";
}

std::string default_state_dir() {
  if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x != '\0') return std::string(x) + "/rulectl";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return std::string(h) + "/.local/state/rulectl";
  return ".rulectl-state";
}

Config load(const std::string& path) {
  if (!std::filesystem::exists(path))
    throw ConfigError(
        fmt::format("{}: no such file (give --config FILE or set RULECTL_CONFIG; `rulectl sandbox up` writes one)",
                    path));
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: {}", path, where.line, where.column, e.description()));
  }

  Config cfg;
  cfg.path = path;
  cfg.state_dir = default_state_dir();
  reject_unknown(path, root, "", {"rulectl", "sites", "portal"});

  if (const toml::node* n = root.get("rulectl")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) fail(path, "rulectl", "must be a table ([rulectl])");
    reject_unknown(path, *t, "rulectl.", {"state_dir"});
    if (auto s = optional_string(path, *t, "state_dir", "rulectl.state_dir")) cfg.state_dir = *s;
  }

  if (const toml::node* n = root.get("portal")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) fail(path, "portal", "must be a table ([portal])");
    reject_unknown(path, *t, "portal.", {"listen", "tls_certificate", "tls_private_key", "session_idle_minutes"});
    if (auto s = optional_string(path, *t, "listen", "portal.listen")) cfg.portal.listen = *s;
    if (auto s = optional_string(path, *t, "tls_certificate", "portal.tls_certificate"))
      cfg.portal.tls_certificate = *s;
    if (auto s = optional_string(path, *t, "tls_private_key", "portal.tls_private_key"))
      cfg.portal.tls_private_key = *s;
    if (cfg.portal.tls_certificate.empty() != cfg.portal.tls_private_key.empty())
      fail(path, "portal.tls_certificate", "give both tls_certificate and tls_private_key, or neither");
    if (const toml::node* m = t->get("session_idle_minutes")) {
      // A number of minutes; a fraction is allowed (tests use seconds).
      if (auto i = m->value<int64_t>(); i && m->is_integer())
        cfg.portal.session_idle_minutes = static_cast<double>(*i);
      else if (auto d = m->value<double>(); d && m->is_floating_point())
        cfg.portal.session_idle_minutes = *d;
      else
        fail(path, "portal.session_idle_minutes", "must be a number of minutes");
      if (!(cfg.portal.session_idle_minutes > 0)) fail(path, "portal.session_idle_minutes", "must be more than 0");
    }
  }

  const toml::node* sites_node = root.get("sites");
  if (sites_node == nullptr) fail(path, "sites", "no [sites.NAME] table: at least one site is required");
  const toml::table* sites = sites_node->as_table();
  if (sites == nullptr) fail(path, "sites", "must be a table of [sites.NAME] tables");

  for (const auto& [k, v] : *sites) {
    SiteConfig site;
    site.name = std::string(k.str());
    const std::string p = "sites." + site.name + ".";
    const toml::table* t = v.as_table();
    if (t == nullptr) fail(path, "sites." + site.name, "must be a table ([sites." + site.name + "])");
    reject_unknown(path, *t, p,
                   {"conninfo", "environment", "dr", "pgdata", "start_command", "stop_command", "bindir", "conf_file",
                    "ha", "patroni_cluster", "patroni_url", "rewind_command", "controldata_command",
                    "standby_command"});
    site.conninfo = required_string(path, *t, "conninfo", p + "conninfo");
    check_conninfo(path, p + "conninfo", site.conninfo);
    site.environment = required_string(path, *t, "environment", p + "environment");
    if (!parse_environment(site.environment))
      fail(path, p + "environment", fmt::format("'{}' is not one of e1, e2, e3", site.environment));
    if (const toml::node* dr = t->get("dr")) {
      if (!dr->is_boolean()) fail(path, p + "dr", "must be true or false");
      site.dr = *dr->value<bool>();
    }
    if (site.dr && parse_environment(site.environment) != Environment::e3)
      fail(path, p + "dr", "only an e3 site can be the disaster-recovery site");
    site.pgdata = optional_string(path, *t, "pgdata", p + "pgdata");
    site.start_command = optional_string(path, *t, "start_command", p + "start_command");
    site.stop_command = optional_string(path, *t, "stop_command", p + "stop_command");
    site.bindir = optional_string(path, *t, "bindir", p + "bindir").value_or(RULEKEEPER_PG_BINDIR);
    site.conf_file = optional_string(path, *t, "conf_file", p + "conf_file");
    site.rewind_command = optional_string(path, *t, "rewind_command", p + "rewind_command");
    site.controldata_command = optional_string(path, *t, "controldata_command", p + "controldata_command");
    site.standby_command = optional_string(path, *t, "standby_command", p + "standby_command");
    check_templates(path, p, site);
    site.ha = optional_string(path, *t, "ha", p + "ha").value_or("");
    site.patroni_cluster = optional_string(path, *t, "patroni_cluster", p + "patroni_cluster").value_or("");
    site.patroni_url = optional_string(path, *t, "patroni_url", p + "patroni_url").value_or("");
    if (!site.ha.empty() && site.ha != "patroni")
      fail(path, p + "ha", fmt::format("'{}' is not an HA manager rulectl drives (only \"patroni\")", site.ha));
    if (site.ha == "patroni" && parse_environment(site.environment) != Environment::e3)
      fail(path, p + "ha", "only an e3 site is run by an HA manager");
    if (site.ha == "patroni" && (site.patroni_cluster.empty() || site.patroni_url.empty()))
      fail(path, p + "ha", "ha = \"patroni\" needs patroni_cluster and patroni_url too");
    if (site.ha.empty() && (!site.patroni_cluster.empty() || !site.patroni_url.empty()))
      fail(path, p + "patroni_cluster", "set only with ha = \"patroni\"");
    check_site_name(path, site);
    cfg.sites.push_back(std::move(site));
  }
  if (cfg.sites.empty()) fail(path, "sites", "no [sites.NAME] table: at least one site is required");

  // Report in the order rules travel: e1, e2, e3 (DR sites last), then by name.
  std::stable_sort(cfg.sites.begin(), cfg.sites.end(), [](const SiteConfig& a, const SiteConfig& b) {
    return std::make_tuple(environment_rank(a.environment), a.dr, a.name) <
           std::make_tuple(environment_rank(b.environment), b.dr, b.name);
  });
  return cfg;
}

}  // namespace rulekeeper::config
