// See promotion.hpp.
#include "promotion.hpp"

#include "catalog_version.hpp"
#include "settings.hpp"

extern "C" {
#include "postgres.h"

#include "access/timeline.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

#include <cstring>

namespace {

// rulectl's intent, for the one promotion it is about to make. Details are
// rulectl's JSON (steps so far, evidence): a few kB; more is refused.
constexpr int kDetailsMax = 32 * 1024;
// An intent older than this is not the promotion's: rulectl promotes right
// after announcing it (ops/failover.cpp), an HA manager may promote much later.
constexpr long kIntentMaxAgeMs = 10 * 60 * 1000L;

struct Intent {
  slock_t mutex;
  bool set;
  TimeLineID from_tli;
  TimestampTz at;
  bool forced;
  char old_site[256];
  char details[kDetailsMax];
};
Intent* intent = nullptr;

shmem_request_hook_type prev_request = nullptr;
shmem_startup_hook_type prev_startup = nullptr;

void on_shmem_request() {
  if (prev_request) prev_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(Intent)));
}

void on_shmem_startup() {
  if (prev_startup) prev_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  intent = static_cast<Intent*>(ShmemInitStruct("rulekeeper promotion intent", sizeof(Intent), &found));
  if (!found) {
    memset(intent, 0, sizeof(Intent));
    SpinLockInit(&intent->mutex);
  }
  LWLockRelease(AddinShmemInitLock);
}

// The first-write check: what this backend knows to be recorded (committed)
// and what this transaction checked (becomes `confirmed` at commit).
struct Checked {
  bool valid = false;
  TimeLineID tli = 0;
  Oid database = InvalidOid;
};
Checked confirmed;
Checked pending;
bool recording = false;  // _record_promotion() is running in this backend

void on_xact(XactEvent event, void*) {
  if (event == XACT_EVENT_COMMIT && pending.valid) confirmed = pending;
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
      event == XACT_EVENT_PARALLEL_COMMIT) {
    pending = Checked{};
    recording = false;
  }
}

// A subtransaction that aborts may have taken the event with it: check again.
void on_subxact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    pending = Checked{};
    recording = false;
  }
}

Oid record_function() {
  Oid argtypes[1] = {TEXTOID};
  List* name = list_make2(makeString(pstrdup("rulekeeper")), makeString(pstrdup("_record_promotion")));
  return LookupFuncName(name, 1, argtypes, true);
}

}  // namespace

namespace rulekeeper::pg::promotion {

void request_shared_memory() {
  prev_request = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  prev_startup = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
}

void register_callbacks() {
  RegisterXactCallback(on_xact, nullptr);
  RegisterSubXactCallback(on_subxact, nullptr);
}

void before_journal_entry(const char* kind) {
  if (recording || strcmp(kind, "failover") == 0) return;
  if (strcmp(environment_setting(), "e3") != 0 || RecoveryInProgress()) return;
  const TimeLineID tli = GetWALInsertionTimeLine();
  if (tli <= 1) return;  // never promoted
  if (confirmed.valid && confirmed.tli == tli && confirmed.database == MyDatabaseId) return;
  if (pending.valid && pending.tli == tli && pending.database == MyDatabaseId) return;
  if (!catalog_at_least("0.2")) return;
  const Oid fn = record_function();
  if (!OidIsValid(fn)) return;
  // Called through fmgr, not SQL: the function is the owner's alone (no
  // role may record a promotion that did not happen), and fmgr checks no
  // EXECUTE privilege; SECURITY DEFINER runs it as the owner.
  recording = true;
  PG_TRY();
  { (void)OidFunctionCall1(fn, CStringGetTextDatum("first write")); }
  PG_FINALLY();
  { recording = false; }
  PG_END_TRY();
  pending = Checked{true, tli, MyDatabaseId};
}

bool record_in_worker() {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  if (!OidIsValid(get_extension_oid("rulekeeper", true)) || !catalog_at_least("0.2")) {
    PopActiveSnapshot();
    AbortCurrentTransaction();
    return false;
  }
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper promotion: SPI_connect failed");
  int rc = SPI_execute("SELECT rulekeeper._record_promotion('worker')", false, 1);
  if (rc != SPI_OK_SELECT) elog(ERROR, "rulekeeper promotion: recording failed: %s", SPI_result_code_string(rc));
  char* outcome = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
  if (outcome && strcmp(outcome, "recorded") == 0)
    ereport(LOG, (errmsg("rulekeeper: recorded the promotion to timeline %u as a failover event",
                         GetWALInsertionTimeLine())));
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  return true;
}

}  // namespace rulekeeper::pg::promotion

extern "C" {

// _parent_timeline(tli) -> integer: the timeline `tli` branched from.
PG_FUNCTION_INFO_V1(rk_parent_timeline);
PGDLLEXPORT Datum rk_parent_timeline(PG_FUNCTION_ARGS) {
  const int32 tli = PG_GETARG_INT32(0);
  if (tli <= 1) PG_RETURN_NULL();
  List* history = readTimeLineHistory(static_cast<TimeLineID>(tli));
  if (list_length(history) < 2) PG_RETURN_NULL();
  // Newest first: the first entry is tli itself, the second its parent.
  const auto* parent = static_cast<TimeLineHistoryEntry*>(lsecond(history));
  PG_RETURN_INT32(static_cast<int32>(parent->tli));
}

// expect_promotion(old_site, forced, details) -> boolean
PG_FUNCTION_INFO_V1(rk_expect_promotion);
PGDLLEXPORT Datum rk_expect_promotion(PG_FUNCTION_ARGS) {
  char* old_site = text_to_cstring(PG_GETARG_TEXT_PP(0));
  const bool forced = PG_GETARG_BOOL(1);
  Jsonb* details_jsonb = PG_GETARG_JSONB_P(2);
  char* details = JsonbToCString(nullptr, &details_jsonb->root, VARSIZE(details_jsonb));

  if (strlen(old_site) >= sizeof(Intent::old_site))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("expect_promotion: old_site is too long")));
  if (strlen(details) >= static_cast<size_t>(kDetailsMax))
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("expect_promotion: details are longer than %d bytes", kDetailsMax - 1)));
  // Not preloaded (no shared memory), or not a standby (no promotion to
  // expect: the caller is told so, nothing is kept).
  if (intent == nullptr || !RecoveryInProgress()) PG_RETURN_BOOL(false);
  TimeLineID tli = 0;
  (void)GetXLogReplayRecPtr(&tli);
  const TimestampTz now = GetCurrentTimestamp();
  SpinLockAcquire(&intent->mutex);
  intent->set = true;
  intent->from_tli = tli;
  intent->at = now;
  intent->forced = forced;
  strlcpy(intent->old_site, old_site, sizeof intent->old_site);
  strlcpy(intent->details, details, sizeof intent->details);
  SpinLockRelease(&intent->mutex);
  PG_RETURN_BOOL(true);
}

// _take_promotion_intent(from_timeline) -> jsonb {old_site, forced, details, at}
PG_FUNCTION_INFO_V1(rk_take_promotion_intent);
PGDLLEXPORT Datum rk_take_promotion_intent(PG_FUNCTION_ARGS) {
  const int32 from = PG_GETARG_INT32(0);
  if (intent == nullptr) PG_RETURN_NULL();
  char* details = static_cast<char*>(palloc(kDetailsMax));
  char old_site[sizeof(Intent::old_site)];
  bool set, forced;
  TimeLineID tli;
  TimestampTz at;
  SpinLockAcquire(&intent->mutex);
  set = intent->set;
  tli = intent->from_tli;
  at = intent->at;
  forced = intent->forced;
  memcpy(old_site, intent->old_site, sizeof old_site);
  memcpy(details, intent->details, kDetailsMax);
  intent->set = false;  // taken, or stale: never used twice
  SpinLockRelease(&intent->mutex);
  if (!set || static_cast<int32>(tli) != from ||
      TimestampDifferenceExceeds(at, GetCurrentTimestamp(), static_cast<int>(kIntentMaxAgeMs)))
    PG_RETURN_NULL();
  StringInfoData buf;
  initStringInfo(&buf);
  appendStringInfoString(&buf, "{\"old_site\": ");
  escape_json(&buf, old_site);
  appendStringInfo(&buf, ", \"forced\": %s, \"at\": ", forced ? "true" : "false");
  escape_json(&buf, timestamptz_to_str(at));
  appendStringInfo(&buf, ", \"details\": %s}", details[0] ? details : "{}");
  PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

}  // extern "C"
