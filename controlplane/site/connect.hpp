// Opening connections to configured sites: the one place that decides the
// connect timeout (a site that does not answer costs kConnectTimeoutSeconds,
// not libpq's default of forever) and how "unreachable" is reported.
#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "site/config.hpp"

namespace rulekeeper::site {

constexpr int kConnectTimeoutSeconds = 3;

// The site's conninfo (keyword/value or URI) as a keyword/value string with
// fallback_application_name "rulectl <verb>" (common/application_name.hpp) and
// connect_timeout added unless the conninfo sets its own (which wins) —
// or, with `bounded`, set to timeout_seconds whatever the conninfo says (a
// wait whose deadline is the contract, e.g. hotfix --sync-timeout).
// Throws common::ExitError(exit_usage) naming the site if it does not parse.
std::string connection_string(const config::SiteConfig& site, int timeout_seconds = kConnectTimeoutSeconds,
                              bool bounded = false);

// Connects or throws common::ExitError(exit_unreachable) naming the site.
// Both connect functions refuse a site at an extension version this rulectl
// does not drive with common::ExitError(exit_refused) (site/extension_check.hpp).
std::unique_ptr<pqxx::connection> connect(const config::SiteConfig& site);

// Connects and checks the extension version; libpq's exception (pqxx) when
// the connection fails, for callers that report it their own way.
std::unique_ptr<pqxx::connection> open(const config::SiteConfig& site);

// Connects or returns nullptr with `error` set (one line).
std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, std::string& error,
                                              int timeout_seconds = kConnectTimeoutSeconds, bool bounded = false);

// Why a connection could not be opened (issue #15 item 10). Two different
// alerts for an on-call person: `unreachable` — nothing answered, or the
// server is not accepting sessions (starting up, shutting down, gone) — may
// mean the site is down; `refused_by_server` — the server answered and
// refused this login (no pg_hba entry, wrong or missing password, a role not
// permitted to log in or missing, no CONNECT privilege, the database missing)
// — is a configuration problem and says nothing about the server's health.
struct ConnectFailure {
  enum class Kind { unreachable, refused_by_server };
  Kind kind = Kind::unreachable;
  std::string message;  // libpq's, one line
  bool refused() const { return kind == Kind::refused_by_server; }
  std::string kind_name() const { return refused() ? "refused_by_server" : "unreachable"; }
};

// Classifies libpq's connection error text. libpq reports no SQLSTATE for a
// failed connection (there is no result to read it from), so this matches
// the server's messages for SQLSTATE 28000 / 28P01 / 3D000 / 42501 and
// libpq's own "no password supplied"; anything else is `unreachable`.
ConnectFailure classify_connect_error(const std::string& message);

// try_connect, with the failure classified.
std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, ConnectFailure& failure,
                                              int timeout_seconds = kConnectTimeoutSeconds, bool bounded = false);

}  // namespace rulekeeper::site
