// The journal's hash chain (docs/design/contract.md "Journal hash chain"):
// every entry carries entry_hash = SHA-256 of a canonical form of its fields
// that includes the previous entry's hash of the same origin (origin_site,
// origin_incarnation, ordered by origin_seq). The first entry of an origin
// chains to kGenesisHash. Defined once here so that the extension (which
// writes and verifies entries) and any other tool compute the same bytes.
#pragma once
#include "rulekeeper/no_postgres.hpp"
#include "rulekeeper/sha256.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rulekeeper {

// What the first entry of every origin chains to: 64 zeros.
inline constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

// The fields of one journal entry as they enter the hash. payload_jcs is the
// payload already in RFC 8785 form (the caller canonicalizes it: the
// extension from jsonb, a tool from text with canonicalize_text).
struct JournalEntryFields {
  std::string_view change_id;  // lowercase 8-4-4-4-12 uuid text
  std::string_view origin_site;
  std::int64_t origin_incarnation = 0;
  std::int64_t origin_seq = 0;
  std::string_view kind;
  std::optional<std::string_view> rule_key;
  std::optional<std::string_view> label;
  std::string_view payload_jcs;
  std::string_view actor;
  std::string_view recorded_at;  // format_recorded_at()
};

// recorded_at in its fixed text form: RFC 3339 in UTC with exactly six
// fractional digits ("2026-12-06T10:06:06.123456Z"), from microseconds since
// 1970-01-01 00:00:00 UTC (proleptic Gregorian; a year outside 0..9999 is
// written with as many digits as it needs, a sign when negative).
std::string format_recorded_at(std::int64_t unix_micros);

// The canonical bytes of an entry chained to prev_hash: the JCS (RFC 8785)
// text of the object
//   {"actor","change_id","kind","label","origin_incarnation","origin_seq",
//    "origin_site","payload","prev","recorded_at","rule_key"}
// with label / rule_key null when absent and the two integers written as
// plain decimal integers. Throws Error(invalid_input) for a prev_hash that is
// not 64 lowercase hex digits or a payload_jcs that is not a JSON object.
std::string journal_entry_canonical(std::string_view prev_hash, const JournalEntryFields& entry);

// Lowercase hex SHA-256 of journal_entry_canonical(prev_hash, entry).
std::string journal_entry_hash(const Sha256& sha, std::string_view prev_hash, const JournalEntryFields& entry);

}  // namespace rulekeeper
