// The one timestamp format of rulectl: RFC 3339 in UTC with milliseconds,
// "2026-12-06T08:01:27.123Z" — in status, hotfix list/show, receipts, watch,
// logs and settings files alike. Timestamps read from the server are asked
// for in this form by the client (site/client/sql_time.hpp).
#pragma once

#include <chrono>
#include <string>

namespace rulekeeper::common {

std::string rfc3339_utc(std::chrono::system_clock::time_point at);
std::string utc_now_text();  // rfc3339_utc(now)
// For file names: "20261206T080127.123Z" (no colons).
std::string utc_now_compact();

}  // namespace rulekeeper::common
