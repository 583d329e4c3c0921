#include "site/connect.hpp"

#include <fmt/format.h>

#include "common/application_name.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "site/conninfo.hpp"
#include "site/extension_check.hpp"

namespace rulekeeper::site {

std::string connection_string(const config::SiteConfig& site, int timeout_seconds, bool bounded) {
  auto keywords = conninfo::parse(site.conninfo, site.name);
  if (bounded || !keywords.count("connect_timeout")) keywords["connect_timeout"] = std::to_string(timeout_seconds);
  keywords["fallback_application_name"] = common::application_name();
  return conninfo::build(keywords);
}

std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, std::string& error, int timeout_seconds,
                                              bool bounded) {
  const std::string conninfo =
      connection_string(site, timeout_seconds, bounded);  // a bad conninfo is exit 2, not "down"
  try {
    auto c = std::make_unique<pqxx::connection>(conninfo);
    // Every verb's connections pass here: the one place a site at another
    // extension version is refused (site/extension_check.hpp). The refusal
    // (common::ExitError) is not caught below: it is not "unreachable".
    check_extension(site, *c);
    return c;
  } catch (const common::ExitError&) {
    throw;
  } catch (const std::exception& e) {
    error = common::one_line(e.what());
    // libpq says only "timeout expired": say what it means for an operator
    // (a postmaster or host that accepts TCP but never answers — frozen).
    if (error == "timeout expired" || error.find("timeout expired") != std::string::npos)
      error = fmt::format("no answer within connect_timeout ({}): {} (the server or its host may be frozen)",
                          conninfo::parse(conninfo, site.name)["connect_timeout"] + " s", error);
    return nullptr;
  }
}

std::unique_ptr<pqxx::connection> open(const config::SiteConfig& site) {
  auto c = std::make_unique<pqxx::connection>(connection_string(site));
  check_extension(site, *c);
  return c;
}

ConnectFailure classify_connect_error(const std::string& message) {
  // The server's texts (src/backend/libpq/auth.c, utils/init/postinit.c) for
  // a login it refused, and libpq's when the server asked for a password the
  // conninfo does not give. "the database system is starting up / shutting
  // down / in recovery mode" (57P03) is the server not being available, not
  // a refusal: it stays `unreachable`.
  static const char* const kRefusals[] = {
      "password authentication failed",  // 28P01
      "authentication failed for user",  // 28000 (ident, peer, ldap, ...)
      "no pg_hba.conf entry",            // 28000
      "pg_hba.conf rejects connection",  // 28000
      "is not permitted to log in",      // 28000 (NOLOGIN)
      "does not exist",                  // 28000 role / 3D000 database
      "permission denied for database",  // 42501 (no CONNECT)
      "no password supplied",            // libpq: the server asked for one
  };
  ConnectFailure f;
  f.message = common::one_line(message);
  for (const char* needle : kRefusals)
    if (f.message.find(needle) != std::string::npos) {
      f.kind = ConnectFailure::Kind::refused_by_server;
      break;
    }
  return f;
}

std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, ConnectFailure& failure,
                                              int timeout_seconds, bool bounded) {
  std::string error;
  auto c = try_connect(site, error, timeout_seconds, bounded);
  if (!c) failure = classify_connect_error(error);
  return c;
}

std::unique_ptr<pqxx::connection> connect(const config::SiteConfig& site) {
  std::string error;
  auto c = try_connect(site, error);
  if (!c)
    throw common::ExitError(common::exit_unreachable, fmt::format("site {} is unreachable: {}", site.name, error));
  return c;
}

}  // namespace rulekeeper::site
