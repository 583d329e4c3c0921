// libpq conninfo strings of configured sites: parsed, built, turned into
// the primary_conninfo of a standby, and matched back to a configured site
// (which site a standby's upstream host:port is).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "site/config.hpp"

namespace rulekeeper::conninfo {

// Keywords of a conninfo string or URI with a value (PQconninfoParse).
// common::ExitError(exit_usage) naming the site if it does not parse.
std::map<std::string, std::string> parse(const std::string& conninfo, const std::string& site);
// key='value' pairs, quoted for libpq.
std::string build(const std::map<std::string, std::string>& keywords);
// host (hostaddr first) and port ("5432" if none) of parsed keywords.
std::pair<std::string, std::string> address(const std::map<std::string, std::string>& keywords);

// What a standby of `upstream` puts in primary_conninfo: upstream's
// conninfo without database and session options, with
// application_name=<standby> (what synchronous_standby_names and
// pg_stat_replication name it by).
std::string for_standby(const config::SiteConfig& upstream, const std::string& standby_site);

// The configured E3 site (other than `except`) that host:port names, or
// nullptr. Loopback names (localhost, 127.0.0.1, ::1, a socket directory)
// count as one host.
const config::SiteConfig* site_at(const config::Config& config, const std::string& host, const std::string& port,
                                  const std::string& except);

}  // namespace rulekeeper::conninfo
