// The one timestamp format of rulectl: RFC 3339 in UTC with milliseconds,
// "2026-12-06T08:01:27.123Z" — in status, hotfix list/show, receipts, watch,
// logs and settings files alike. Timestamps read from the server are asked
// for in this form by the client (site/client/sql_time.hpp).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace rulekeeper::common {

std::string rfc3339_utc(std::chrono::system_clock::time_point at);
std::string utc_now_text();  // rfc3339_utc(now)
// rulectl's own format ("2026-12-06T08:01:27.123Z", the fraction optional)
// back to a time point; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339_utc(const std::string& text);
// For file names: "20261206T080127.123Z" (no colons).
std::string utc_now_compact();

// A timestamp as PostgreSQL prints it in the ISO DateStyle
// ("2026-11-26 14:34:55.557544+00", "+05:30" offsets, no fraction, or no
// offset for a timestamp without time zone, taken as UTC) in rulectl's
// format; text it cannot read comes back unchanged.
std::string rfc3339_from_pg(const std::string& text);

// rfc3339_from_pg on every string member named "*_at" of a JSON document the
// server built (jsonb prints a timestamptz as "2026-11-26T14:34:55.557544+00:00"),
// at any depth, so that what rulectl shows has one timestamp format.
void rfc3339_timestamps(nlohmann::json& doc);

}  // namespace rulekeeper::common
