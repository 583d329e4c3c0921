#include "common/time.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace rulekeeper::common {
namespace {

struct Parts {
  std::tm tm{};
  long long ms = 0;
};

Parts split(std::chrono::system_clock::time_point at) {
  using namespace std::chrono;
  Parts p;
  const auto since = at.time_since_epoch();
  std::time_t t = system_clock::to_time_t(time_point_cast<seconds>(at));
  long long ms = duration_cast<milliseconds>(since).count() % 1000;
  if (ms < 0) {  // before 1970: to_time_t truncated towards zero
    ms += 1000;
    t -= 1;
  }
  ::gmtime_r(&t, &p.tm);
  p.ms = ms;
  return p;
}

}  // namespace

std::string rfc3339_utc(std::chrono::system_clock::time_point at) {
  const Parts p = split(at);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", p.tm.tm_year + 1900, p.tm.tm_mon + 1, p.tm.tm_mday,
                     p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.ms);
}

std::string utc_now_text() { return rfc3339_utc(std::chrono::system_clock::now()); }

std::optional<std::chrono::system_clock::time_point> parse_rfc3339_utc(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &used) != 6)
    return std::nullopt;
  std::size_t pos = static_cast<std::size_t>(used);
  long long ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    int digits = 0;
    for (++pos; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos, ++digits)
      if (digits < 3) ms = ms * 10 + (text[pos] - '0');
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) ms *= 10;
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = ::timegm(&tm);
  return std::chrono::system_clock::from_time_t(t) + std::chrono::milliseconds(ms);
}

std::string rfc3339_from_pg(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, used = 0;
  // "2026-11-26 14:34:55+00" as a column prints, or "2026-11-26T14:34:55+00:00"
  // as a timestamptz inside jsonb prints.
  std::string t = text;
  if (t.size() > 10 && t[10] == 'T') t[10] = ' ';
  if (std::sscanf(t.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &used) != 6)
    return text;
  std::size_t pos = static_cast<std::size_t>(used);
  long long ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    // Milliseconds: the first three digits of the fraction (truncated).
    int digits = 0;
    ++pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (digits < 3) ms = ms * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    for (; digits < 3; ++digits) ms *= 10;
  }
  long offset_seconds = 0;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    int oh = 0, om = 0, os = 0;
    const std::string rest = text.substr(pos + 1);
    if (std::sscanf(rest.c_str(), "%2d:%2d:%2d", &oh, &om, &os) < 1) return text;
    offset_seconds = sign * (oh * 3600L + om * 60L + os);
  } else if (pos != text.size()) {
    return text;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t local = ::timegm(&tm) - offset_seconds;
  return rfc3339_utc(std::chrono::system_clock::from_time_t(local) + std::chrono::milliseconds(ms));
}

void rfc3339_timestamps(nlohmann::json& doc) {
  if (doc.is_array()) {
    for (auto& v : doc) rfc3339_timestamps(v);
  } else if (doc.is_object()) {
    for (auto& [key, v] : doc.items()) {
      if (v.is_string() && key.size() > 3 && key.compare(key.size() - 3, 3, "_at") == 0)
        v = rfc3339_from_pg(v.get<std::string>());
      else
        rfc3339_timestamps(v);
    }
  }
}

std::string utc_now_compact() {
  const Parts p = split(std::chrono::system_clock::now());
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z", p.tm.tm_year + 1900, p.tm.tm_mon + 1, p.tm.tm_mday,
                     p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.ms);
}

}  // namespace rulekeeper::common
