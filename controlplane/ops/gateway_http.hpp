// The pod gateway's HTTP routes (the protocol of docs/pods.md, "The gateway
// protocol"), on http/server's Exchange: the rules of a channel with ETag /
// If-None-Match, the long poll (?after=N&wait=30s), the Server-Sent Events
// stream, /v1/pods, /healthz and /metrics. What they serve comes from
// ops/gateway.hpp's GatewayState; the deadlines and keep-alives run on its
// Timers.
#pragma once

#include <chrono>
#include <string>

#include "http/server.hpp"
#include "ops/gateway.hpp"

namespace rulekeeper::ops::gateway {

struct HttpOptions {
  std::string token;  // "" = no bearer token required
  std::chrono::milliseconds max_wait{60000};
  std::chrono::milliseconds default_wait{30000};
  std::chrono::milliseconds keepalive{15000};
};

void add_routes(http::Server& server, GatewayState& state, Timers& timers, const HttpOptions& options);

}  // namespace rulekeeper::ops::gateway
