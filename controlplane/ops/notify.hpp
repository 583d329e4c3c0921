// `rulectl notify hold|release` (issue #18 item 3, docs/notifications.md):
// holds a site's channel at its current epoch — that site's gateway keeps
// serving the held epoch's set to its pods — or releases it. Written at the
// E3 primary (journaled; replicates to every standby, survives restarts),
// whichever E3 site is held.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ops/production_plan.hpp"
#include "site/config.hpp"

namespace rulekeeper::ops {

enum class NotifyAction { hold, release };
const char* to_string(NotifyAction a);

struct NotifyRequest {
  NotifyAction action = NotifyAction::hold;
  std::string site;     // an E3 site of rulectl.toml (the scope, not where it is written)
  std::string channel;  // sl or prod
  std::string reason;   // journaled; may be empty
  bool dry_run = false;
  ConfirmHook confirm;  // asked before the change when set
};

struct NotifyReport {
  NotifyAction action = NotifyAction::hold;
  std::string primary;  // where it was written
  std::string site;
  std::string channel;
  bool dry_run = false;
  nlohmann::json result;  // the notification_hold row written (or, dry run, that would be)
  // {"site","channel","action","primary","dry_run","held_epoch","current_epoch","reason","actor","recorded_at"}
  nlohmann::json to_json() const;
};

// Throws common::ExitError: 2 for a site that is not an E3 site of the
// config or a channel that is not sl or prod; 3 refused (already held, not
// held, no E3 primary, split brain, not
// confirmed); 4 no E3 primary reachable.
NotifyReport notify(const config::Config& config, const NotifyRequest& request);

}  // namespace rulekeeper::ops
