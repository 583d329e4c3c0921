// Timestamps asked of the server in rulectl's one format (common/time.hpp):
// RFC 3339, UTC, milliseconds. Used inside the client's SQL text only.
#pragma once

#include <string>

namespace rulekeeper::site::client {

// SQL expression rendering the timestamptz expression `column` as
// "2026-12-06T08:01:27.123Z" (NULL stays NULL).
inline std::string rfc3339(const std::string& column) {
  return "to_char((" + column + ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

}  // namespace rulekeeper::site::client
