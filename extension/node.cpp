// Functions about this node and the journal primitives the install script's
// PL/pgSQL triggers use: timeline(), _require_environment(), _journal(),
// _journal_check(), _lock_site().
#include "journal.hpp"
#include "settings.hpp"
#include "txn_state.hpp"

extern "C" {
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

extern "C" {

// The timeline this node writes on (primary) or replays (standby). On a
// primary the insertion timeline, because the control file's checkpoint
// timeline lags a promotion (docs/design/postgres-traps.md "Timelines").
PG_FUNCTION_INFO_V1(rk_timeline);
PGDLLEXPORT Datum rk_timeline(PG_FUNCTION_ARGS) {
  TimeLineID tli;
  if (RecoveryInProgress())
    (void)GetXLogReplayRecPtr(&tli);
  else
    tli = GetWALInsertionTimeLine();
  PG_RETURN_INT32((int32)tli);
}

PG_FUNCTION_INFO_V1(rk_require_environment);
PGDLLEXPORT Datum rk_require_environment(PG_FUNCTION_ARGS) {
  char* env = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* action = text_to_cstring(PG_GETARG_TEXT_PP(1));
  rulekeeper::pg::require_environment(env, action);
  rulekeeper::pg::require_writable_node(action);
  PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(rk_require_site);
PGDLLEXPORT Datum rk_require_site(PG_FUNCTION_ARGS) {
  char* action = text_to_cstring(PG_GETARG_TEXT_PP(0));
  rulekeeper::pg::require_site(action);
  rulekeeper::pg::require_writable_node(action);
  PG_RETURN_VOID();
}

// Takes the per-site lock that orders journal entries (and, later, epochs).
PG_FUNCTION_INFO_V1(rk_lock_site);
PGDLLEXPORT Datum rk_lock_site(PG_FUNCTION_ARGS) {
  rulekeeper::pg::txn::lock_site();
  PG_RETURN_VOID();
}

// _journal(kind, rule_key, label, payload jsonb) -> uuid
PG_FUNCTION_INFO_V1(rk_journal);
PGDLLEXPORT Datum rk_journal(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("journal kind is required")));
  char* kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* rule_key = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
  char* label = PG_ARGISNULL(2) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(2));
  char* payload = nullptr;
  if (!PG_ARGISNULL(3)) {
    Jsonb* j = PG_GETARG_JSONB_P(3);
    payload = JsonbToCString(nullptr, &j->root, VARSIZE(j));
  }
  return rulekeeper::pg::journal::append(kind, rule_key, label, payload);
}

// _journal_check(change_id, kind, rule_key, label): a NULL kind, rule_key or
// label is not compared (so the function is not STRICT); a NULL change_id is
// an error, never a pointer to read.
PG_FUNCTION_INFO_V1(rk_journal_check);
PGDLLEXPORT Datum rk_journal_check(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("change_id is required")));
  Datum id = PG_GETARG_DATUM(0);
  char* kind = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
  char* rule_key = PG_ARGISNULL(2) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(2));
  char* label = PG_ARGISNULL(3) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(3));
  rulekeeper::pg::journal::check(id, kind, rule_key, label);
  PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(rk_incarnation);
PGDLLEXPORT Datum rk_incarnation(PG_FUNCTION_ARGS) {
  const char* site = rulekeeper::pg::require_site("reading the incarnation");
  rulekeeper::pg::require_writable_node("recording an incarnation");
  PG_RETURN_INT32(rulekeeper::pg::txn::current_incarnation(site));
}

}  // extern "C"
