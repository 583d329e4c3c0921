#include "site/connect.hpp"

#include <fmt/format.h>

#include "common/application_name.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "site/conninfo.hpp"

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
    return std::make_unique<pqxx::connection>(conninfo);
  } catch (const std::exception& e) {
    error = common::one_line(e.what());
    return nullptr;
  }
}

std::unique_ptr<pqxx::connection> connect(const config::SiteConfig& site) {
  std::string error;
  auto c = try_connect(site, error);
  if (!c)
    throw common::ExitError(common::exit_unreachable, fmt::format("site {} is unreachable: {}", site.name, error));
  return c;
}

}  // namespace rulekeeper::site
