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
std::unique_ptr<pqxx::connection> connect(const config::SiteConfig& site);

// Connects or returns nullptr with `error` set (one line).
std::unique_ptr<pqxx::connection> try_connect(const config::SiteConfig& site, std::string& error,
                                              int timeout_seconds = kConnectTimeoutSeconds, bool bounded = false);

}  // namespace rulekeeper::site
