#include "ops/notification_status.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "site/client/notify.hpp"
#include "site/server_error.hpp"

namespace rulekeeper::ops {

using json = nlohmann::json;

json notification_status(const std::vector<site::SiteState>& sites, std::vector<std::string>& notes) {
  json rows = json::array();
  for (const auto& s : sites) {
    if (s.effective_environment() != "e3" || !s.reachable || !s.connection) continue;
    // notification_state() is new in 0.2; a site not yet updated has no
    // per-channel epochs and no holds.
    if (!s.extension_version || *s.extension_version == "0.1") {
      notes.push_back(fmt::format("{}: extension {}: no per-channel epochs or notification holds before 0.2", s.name,
                                  s.extension_version.value_or("missing")));
      continue;
    }
    try {
      for (const auto& n : site::client::notification_state(*s.connection, s.name)) {
        rows.push_back({{"site", s.name},
                        {"channel", n.channel},
                        {"current_epoch", n.current_epoch},
                        {"served_epoch", n.served_epoch()},
                        {"held", n.held},
                        {"held_epoch", n.held_epoch ? json(*n.held_epoch) : json(nullptr)},
                        {"held_by", n.held_by ? json(*n.held_by) : json(nullptr)},
                        {"held_at", n.held_at ? json(*n.held_at) : json(nullptr)},
                        {"reason", n.reason ? json(*n.reason) : json(nullptr)}});
      }
    } catch (const pqxx::broken_connection& e) {
      notes.push_back(fmt::format("{}: notification state unreadable: connection lost", s.name));
    } catch (const pqxx::failure& e) {
      notes.push_back(fmt::format("{}: notification state unreadable: {}", s.name, site::server_message(e)));
    }
  }
  return rows;
}

}  // namespace rulekeeper::ops
