// The journal hash chain inside the server (journal_chain.hpp), and the SQL
// function verify_history() and import_changes() recompute entries with:
//   rulekeeper._journal_entry_hash(prev text, entry rulekeeper.journal) -> text
// The entry is passed as the whole journal row (a composite is never NULL as
// an argument, so the function can be STRICT while rule_key and label are
// nullable fields of it).
#include "journal_chain.hpp"

#include "guard.hpp"
#include "jsonb_canonical.hpp"
#include "pg_sha256.hpp"
#include "rulekeeper/canonical_json.hpp"
#include "rulekeeper/journal_chain.hpp"

extern "C" {
#include "executor/executor.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

#include <cstring>
#include <optional>
#include <string>

namespace rulekeeper::pg::chain {

// The hash with the payload already in JCS form (payload_is_jcs) or as JSON
// text to canonicalize first.
char* hash_of(const char* prev, const char* change_id, const char* origin_site, int32 origin_incarnation,
              int64 origin_seq, const char* kind, const char* rule_key, const char* label, const char* payload,
              bool payload_is_jcs, const char* actor, const char* recorded_at) {
  char hex[65];
  guarded([&] {
    std::string payload_jcs = payload_is_jcs ? std::string(payload) : canonicalize_text(payload ? payload : "{}");
    JournalEntryFields e;
    e.change_id = change_id;
    e.origin_site = origin_site;
    e.origin_incarnation = origin_incarnation;
    e.origin_seq = origin_seq;
    e.kind = kind;
    if (rule_key) e.rule_key = std::string_view(rule_key);
    if (label) e.label = std::string_view(label);
    e.payload_jcs = payload_jcs;
    e.actor = actor;
    e.recorded_at = recorded_at;
    std::string h = journal_entry_hash(server_sha256(), prev, e);
    std::memcpy(hex, h.c_str(), 65);
  });
  return pstrdup(hex);
}

char* recorded_at_text(TimestampTz ts) {
  if (TIMESTAMP_IS_NOBEGIN(ts)) return pstrdup("-infinity");
  if (TIMESTAMP_IS_NOEND(ts)) return pstrdup("infinity");
  // PostgreSQL counts from 2000-01-01; the chain's text from 1970-01-01.
  int64 unix_micros = ts + static_cast<int64>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
  char out[64];
  guarded([&] {
    std::string s = format_recorded_at(unix_micros);
    strlcpy(out, s.c_str(), sizeof out);
  });
  return pstrdup(out);
}

char* entry_hash(const char* prev, const char* change_id, const char* origin_site, int32 origin_incarnation,
                 int64 origin_seq, const char* kind, const char* rule_key, const char* label, const char* payload_json,
                 const char* actor, const char* recorded_at) {
  return hash_of(prev, change_id, origin_site, origin_incarnation, origin_seq, kind, rule_key, label, payload_json,
                 false, actor, recorded_at);
}

}  // namespace rulekeeper::pg::chain

namespace {

// A field of the journal row passed in; ERROR if the row type lacks it.
Datum field(HeapTupleHeader row, const char* name, bool* isnull) { return GetAttributeByName(row, name, isnull); }

const char* required_text(HeapTupleHeader row, const char* name) {
  bool isnull;
  Datum d = field(row, name, &isnull);
  if (isnull)
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("a journal entry's %s must not be null", name)));
  return TextDatumGetCString(d);
}

}  // namespace

extern "C" {

// _journal_entry_hash(prev text, entry rulekeeper.journal) -> text
PG_FUNCTION_INFO_V1(rk_journal_entry_hash);
PGDLLEXPORT Datum rk_journal_entry_hash(PG_FUNCTION_ARGS) {
  char* prev = text_to_cstring(PG_GETARG_TEXT_PP(0));
  HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
  bool isnull;
  Datum id = field(row, "change_id", &isnull);
  if (isnull)
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("a journal entry's change_id must not be null")));
  char* change_id = DatumGetCString(DirectFunctionCall1(uuid_out, id));
  const char* site = required_text(row, "origin_site");
  Datum inc = field(row, "origin_incarnation", &isnull);
  if (isnull)
    ereport(ERROR,
            (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("a journal entry's origin_incarnation must not be null")));
  Datum seq = field(row, "origin_seq", &isnull);
  if (isnull)
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("a journal entry's origin_seq must not be null")));
  const char* kind = required_text(row, "kind");
  Datum d = field(row, "rule_key", &isnull);
  const char* rule_key = isnull ? nullptr : TextDatumGetCString(d);
  d = field(row, "label", &isnull);
  const char* label = isnull ? nullptr : TextDatumGetCString(d);
  d = field(row, "payload", &isnull);
  const char* payload_jcs = isnull ? "{}" : rulekeeper::pg::jsonb_jcs::canonical(DatumGetJsonbP(d));
  const char* actor = required_text(row, "actor");
  d = field(row, "recorded_at", &isnull);
  if (isnull)
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("a journal entry's recorded_at must not be null")));
  const char* recorded_at = rulekeeper::pg::chain::recorded_at_text(DatumGetTimestampTz(d));
  char* hash = rulekeeper::pg::chain::hash_of(prev, change_id, site, DatumGetInt32(inc), DatumGetInt64(seq), kind,
                                              rule_key, label, payload_jcs, true, actor, recorded_at);
  PG_RETURN_TEXT_P(cstring_to_text(hash));
}

}  // extern "C"
