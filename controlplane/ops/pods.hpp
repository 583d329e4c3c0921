// Which pods loaded which version (issue #18 item 3): every configured pod
// gateway's /v1/pods ([sites.NAME.gateway]: its url and token), per site
// and channel. `rulectl pods` prints it, the portal's Pods page shows it
// (issue #19): one reading, two front ends.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "site/config.hpp"

namespace rulekeeper::ops {

struct GatewayPods {
  // One entry per gateway asked: site, url, reachable, and either error or
  // pods (as the gateway lists them) and channels (per channel: pods,
  // connected, behind, current_epoch, served_epochs).
  nlohmann::json gateways = nlohmann::json::array();
  bool any = false;   // a gateway was configured (for `site`, when given)
  bool down = false;  // one of them did not answer
};

// Asks each gateway (of `site` only, when not empty); a gateway that does
// not answer within 3 s is listed with its error, never thrown.
GatewayPods read_gateway_pods(const config::Config& config, const std::string& site = "");

}  // namespace rulekeeper::ops
