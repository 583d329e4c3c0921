// The journal hash chain's canonical form (include/rulekeeper/journal_chain.hpp,
// docs/design/contract.md "Journal hash chain"). Nothing here may depend on
// platform, locale or time zone: every site and every tool must produce the
// same bytes.
#include "rulekeeper/journal_chain.hpp"

#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/error.hpp"

#include <cinttypes>
#include <cstdio>

namespace rulekeeper {
namespace {

// Days since 1970-01-01 -> proleptic Gregorian (year, month, day)
// (H. Hinnant's civil_from_days; exact for every int64 day count we meet).
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

bool is_lower_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void append_member(std::string& out, const char* name) {
  if (out.size() > 1) out += ',';
  append_jcs_string(out, name);
  out += ':';
}

void append_optional_string(std::string& out, const std::optional<std::string_view>& value) {
  if (value)
    append_jcs_string(out, *value);
  else
    out += "null";
}

}  // namespace

std::string format_recorded_at(std::int64_t unix_micros) {
  constexpr std::int64_t kMicrosPerDay = 86400LL * 1000000LL;
  std::int64_t days = unix_micros / kMicrosPerDay;
  std::int64_t rem = unix_micros % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  std::int64_t year;
  unsigned month, day;
  civil_from_days(days, year, month, day);
  const std::int64_t secs = rem / 1000000;
  const std::int64_t micros = rem % 1000000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%06dZ", year < 0 ? "-" : "",
                year < 0 ? -year : year, month, day, static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60), static_cast<int>(micros));
  return buf;
}

std::string journal_entry_canonical(std::string_view prev_hash, const JournalEntryFields& entry) {
  if (!is_lower_hex64(prev_hash))
    throw Error(ErrorKind::invalid_input, "a journal chain hash is 64 lowercase hex digits, not \"" +
                                              std::string(prev_hash.substr(0, 80)) + "\"");
  if (entry.payload_jcs.empty() || entry.payload_jcs.front() != '{' || entry.payload_jcs.back() != '}')
    throw Error(ErrorKind::invalid_input, "a journal entry's payload must be a JSON object in JCS form");
  // Members in RFC 8785 order (all names are ASCII, so byte order is UTF-16 order).
  std::string out = "{";
  append_member(out, "actor");
  append_jcs_string(out, entry.actor);
  append_member(out, "change_id");
  append_jcs_string(out, entry.change_id);
  append_member(out, "kind");
  append_jcs_string(out, entry.kind);
  append_member(out, "label");
  append_optional_string(out, entry.label);
  append_member(out, "origin_incarnation");
  out += std::to_string(entry.origin_incarnation);
  append_member(out, "origin_seq");
  out += std::to_string(entry.origin_seq);
  append_member(out, "origin_site");
  append_jcs_string(out, entry.origin_site);
  append_member(out, "payload");
  out += entry.payload_jcs;
  append_member(out, "prev");
  append_jcs_string(out, prev_hash);
  append_member(out, "recorded_at");
  append_jcs_string(out, entry.recorded_at);
  append_member(out, "rule_key");
  append_optional_string(out, entry.rule_key);
  out += '}';
  return out;
}

std::string journal_entry_hash(const Sha256& sha, std::string_view prev_hash, const JournalEntryFields& entry) {
  return to_hex(sha.digest(journal_entry_canonical(prev_hash, entry)));
}

}  // namespace rulekeeper
