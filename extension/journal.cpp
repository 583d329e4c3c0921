// Journal appends and checks (see journal.hpp). Plain PostgreSQL C, no C++
// objects: every error here may longjmp freely.
#include "journal.hpp"

#include "journal_chain.hpp"
#include "promotion.hpp"
#include "settings.hpp"
#include "spi_plans.hpp"
#include "txn_state.hpp"

extern "C" {
#include "access/genam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "commands/copy.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "utils/memutils.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

#include <cstring>

namespace rulekeeper::pg::journal {
namespace {

SPIPlanPtr plan_append = nullptr;
SPIPlanPtr plan_check = nullptr;

// max(origin_seq) of one origin, 0 if it has no entry, and that entry's
// entry_hash into hash_out (65 bytes; the chain's genesis when there is no
// entry): a backward scan of
// the (origin_site, origin_incarnation, origin_seq) unique index under the
// latest snapshot (this transaction's own entries included). Read straight
// from the index, not through a plan: with stale statistics (a journal
// vacuumed while small, then filled by one large transaction) the planner
// may choose a sequential scan, and that once per entry is quadratic.
int64 read_max_seq(const char* site, int32 incarnation, char* hash_out) {
  Oid schema = get_namespace_oid("rulekeeper", false);
  Oid heap_oid = get_relname_relid("journal", schema);
  Oid index_oid = get_relname_relid("journal_origin_site_origin_incarnation_origin_seq_key", schema);
  if (!OidIsValid(heap_oid) || !OidIsValid(index_oid))
    elog(ERROR, "rulekeeper: rulekeeper.journal or its origin index is missing");
  Relation heap = table_open(heap_oid, AccessShareLock);
  Relation index = index_open(index_oid, AccessShareLock);
  ScanKeyData keys[2];
  ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(site));
  keys[0].sk_collation = index->rd_indcollation[0];
  ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(incarnation));
  Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
  IndexScanDesc scan = index_beginscan(heap, index, snapshot, 2, 0);
  index_rescan(scan, keys, 2, nullptr, 0);
  TupleTableSlot* slot = table_slot_create(heap, nullptr);
  int64 max = 0;
  if (index_getnext_slot(scan, BackwardScanDirection, slot)) {
    int attnum = SPI_fnumber(RelationGetDescr(heap), "origin_seq");
    if (attnum <= 0) elog(ERROR, "rulekeeper: rulekeeper.journal has no column origin_seq");
    bool isnull;
    Datum d = slot_getattr(slot, attnum, &isnull);
    if (isnull) elog(ERROR, "rulekeeper: journal entry without origin_seq");
    max = DatumGetInt64(d);
    int hash_attnum = SPI_fnumber(RelationGetDescr(heap), "entry_hash");
    if (hash_attnum <= 0) elog(ERROR, "rulekeeper: rulekeeper.journal has no column entry_hash");
    d = slot_getattr(slot, hash_attnum, &isnull);
    if (isnull)
      elog(ERROR, "rulekeeper: journal entry %s:%d/" INT64_FORMAT " without entry_hash", site, incarnation, max);
    char* hash = TextDatumGetCString(d);
    if (strlen(hash) != 64)
      ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                      errmsg("journal entry %s:%d/" INT64_FORMAT " has a malformed entry_hash", site, incarnation, max),
                      errhint("SELECT * FROM rulekeeper.verify_history() shows what was changed.")));
    strlcpy(hash_out, hash, 65);
  } else {
    strlcpy(hash_out, "0000000000000000000000000000000000000000000000000000000000000000", 65);
  }
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  UnregisterSnapshot(snapshot);
  index_close(index, AccessShareLock);
  table_close(heap, AccessShareLock);
  return max;
}

// Entries queued by append_later(), in a context under TopTransactionContext
// that each flush empties (gone with the transaction: the callbacks only
// forget the pointers).
struct PendingEntry {
  SubTransactionId subxact;
  pg_uuid_t id;
  char* kind;
  char* rule_key;
  char* label;
  char* payload;
};
MemoryContext queue_context = nullptr;
PendingEntry* pending = nullptr;
int n_pending = 0;
int cap_pending = 0;

void forget_pending() {
  queue_context = nullptr;
  pending = nullptr;
  n_pending = 0;
  cap_pending = 0;
}

void on_xact(XactEvent event, void*) {
  switch (event) {
    case XACT_EVENT_PRE_COMMIT:
    case XACT_EVENT_PRE_PREPARE:
      // The statement trigger flushes every queue it fills; anything
      // left is a bug, and a commit without its journal entries would
      // be worse than an error.
      if (n_pending > 0)
        ereport(ERROR,
                (errcode(ERRCODE_INTERNAL_ERROR), errmsg("rulekeeper: %d journal entr%s queued but never written",
                                                         n_pending, n_pending == 1 ? "y was" : "ies were")));
      break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PREPARE:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PARALLEL_ABORT: forget_pending(); break;
    default: break;
  }
}

void on_subxact(SubXactEvent event, SubTransactionId my_subid, SubTransactionId, void*) {
  // An aborted subtransaction's rows are gone: so are their entries.
  // Entries of a committed one stay (their subxact ids are above the
  // parent's, so the parent's abort drops them too).
  if (event == SUBXACT_EVENT_ABORT_SUB)
    while (n_pending > 0 && pending[n_pending - 1].subxact >= my_subid) --n_pending;
}

// COPY's text format for one field: \N for null; backslash, newline,
// carriage return and tab escaped.
void append_copy_field(StringInfo buf, const char* s) {
  if (s == nullptr) {
    appendStringInfoString(buf, "\\N");
    return;
  }
  // Runs without a special character are copied at once (a payload is
  // mostly such a run): a call per character was 3% of a large import.
  const char* run = s;
  for (const char* p = s;; ++p) {
    const char c = *p;
    if (c != '\0' && c != '\\' && c != '\n' && c != '\r' && c != '\t') continue;
    appendBinaryStringInfo(buf, run, static_cast<int>(p - run));
    if (c == '\0') break;
    appendStringInfoString(buf, c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
    run = p + 1;
  }
}

// uuid_out's text (8-4-4-4-12 lowercase hex) into out, without its palloc
// and function call per entry (1.5% of a large import).
constexpr int UUID_TEXT_LEN = 36;
void uuid_text(const pg_uuid_t& id, char out[UUID_TEXT_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  int o = 0;
  for (int i = 0; i < UUID_LEN; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = digits[id.data[i] >> 4];
    out[o++] = digits[id.data[i] & 0xf];
  }
  out[o] = '\0';
}

// The data COPY reads (copy_data_source_cb has no argument for it).
StringInfo copy_source = nullptr;
int copy_pos = 0;

int read_copy_source(void* outbuf, int /*minread*/, int maxread) {
  int n = Min(maxread, copy_source->len - copy_pos);
  memcpy(outbuf, copy_source->data + copy_pos, n);
  copy_pos += n;
  return n;
}

}  // namespace

void register_callbacks() {
  RegisterXactCallback(on_xact, nullptr);
  RegisterSubXactCallback(on_subxact, nullptr);
}

void append_later(const char* kind, const char* rule_key, const char* label, const char* payload_json,
                  Datum change_id) {
  if (queue_context == nullptr)
    queue_context = AllocSetContextCreate(TopTransactionContext, "rulekeeper journal queue", ALLOCSET_DEFAULT_SIZES);
  MemoryContext old = MemoryContextSwitchTo(queue_context);
  if (n_pending == cap_pending) {
    int cap = cap_pending == 0 ? 1024 : cap_pending * 2;
    pending = pending == nullptr ? static_cast<PendingEntry*>(palloc(sizeof(PendingEntry) * cap))
                                 : static_cast<PendingEntry*>(repalloc(pending, sizeof(PendingEntry) * cap));
    cap_pending = cap;
  }
  PendingEntry& e = pending[n_pending];
  e.subxact = GetCurrentSubTransactionId();
  std::memcpy(e.id.data, DatumGetUUIDP(change_id)->data, UUID_LEN);
  e.kind = pstrdup(kind);
  e.rule_key = rule_key ? pstrdup(rule_key) : nullptr;
  e.label = label ? pstrdup(label) : nullptr;
  e.payload = payload_json ? pstrdup(payload_json) : nullptr;
  ++n_pending;
  MemoryContextSwitchTo(old);
}

// One COPY into rulekeeper.journal (multi-row inserts, as pg_restore writes
// it) instead of one INSERT per entry: the per-statement executor start of
// an INSERT each was a third of a 100,000-version import (bench/README.md).
// recorded_lsn is the WAL insert position before the COPY: at or before each
// entry's own WAL, which is all its readers assume ("a standby whose slot
// stands before it certainly lacks it"), and giving it keeps COPY from
// falling back to one row at a time for a volatile default.
void flush_pending() {
  if (n_pending == 0) return;
  const char* site = require_site("journaling a change");
  require_writable_node("journaling a change");
  promotion::before_journal_entry("version");  // the first write after a promotion records it first
  txn::OriginSlot origin = txn::current_origin(site);
  int64 first = txn::next_origin_seq(origin.site, origin.incarnation, read_max_seq);

  XLogRecPtr lsn = GetXLogInsertRecPtr();
  char lsn_text[32];
  snprintf(lsn_text, sizeof lsn_text, "%X/%X", static_cast<uint32>(lsn >> 32), static_cast<uint32>(lsn));
  char incarnation_text[16];
  snprintf(incarnation_text, sizeof incarnation_text, "%d", origin.incarnation);
  // actor and recorded_at are given, not left to the column defaults: they
  // enter each entry's hash, chained from the cursor's previous hash
  // (docs/design/contract.md "Journal hash chain").
  const char* actor = GetUserNameFromId(GetSessionUserId(), false);
  const char* recorded_at = chain::recorded_at_text(GetCurrentTransactionStartTimestamp());
  char prev[65];
  strlcpy(prev, txn::origin_prev_hash(), sizeof prev);
  StringInfoData data;
  initStringInfo(&data);
  for (int i = 0; i < n_pending; ++i) {
    const PendingEntry& e = pending[i];
    char seq_text[24];
    snprintf(seq_text, sizeof seq_text, INT64_FORMAT, first + i);
    char id_text[UUID_TEXT_LEN + 1];
    uuid_text(e.id, id_text);
    char* hash = chain::entry_hash(prev, id_text, origin.site, origin.incarnation, first + i, e.kind, e.rule_key,
                                   e.label, e.payload, actor, recorded_at);
    strlcpy(prev, hash, sizeof prev);
    const char* fields[12] = {id_text,  origin.site, incarnation_text, seq_text,
                              e.kind,   e.rule_key,  e.label,          e.payload ? e.payload : "{}",
                              lsn_text, actor,       recorded_at,      hash};
    for (int f = 0; f < 12; ++f) {
      if (f > 0) appendStringInfoChar(&data, '\t');
      append_copy_field(&data, fields[f]);
    }
    appendStringInfoChar(&data, '\n');
  }
  const int n = n_pending;
  // Taken (an error below aborts the (sub)transaction that queued them),
  // and their memory with them: a transaction of many statements does not
  // keep every statement's entries until it ends.
  n_pending = 0;
  cap_pending = 0;
  pending = nullptr;
  MemoryContextReset(queue_context);

  Oid schema = get_namespace_oid("rulekeeper", false);
  Oid journal_oid = get_relname_relid("journal", schema);
  if (!OidIsValid(journal_oid)) elog(ERROR, "rulekeeper: rulekeeper.journal is missing");
  Relation rel = table_open(journal_oid, RowExclusiveLock);
  ParseState* pstate = make_parsestate(nullptr);
  (void)addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, nullptr, false, false);
  List* columns = NIL;
  static const char* const names[] = {"change_id",  "origin_site", "origin_incarnation",
                                      "origin_seq", "kind",        "rule_key",
                                      "label",      "payload",     "recorded_lsn",
                                      "actor",      "recorded_at", "entry_hash"};
  for (const char* c : names) columns = lappend(columns, makeString(pstrdup(c)));
  // The text is in the database's encoding, not the client's.
  List* options = list_make1(
      makeDefElem(pstrdup("encoding"), reinterpret_cast<Node*>(makeString(pstrdup(GetDatabaseEncodingName()))), -1));
  copy_source = &data;
  copy_pos = 0;
  CopyFromState cstate = BeginCopyFrom(pstate, rel, nullptr, nullptr, false, read_copy_source, columns, options);
  uint64 written = CopyFrom(cstate);
  EndCopyFrom(cstate);
  copy_source = nullptr;
  free_parsestate(pstate);
  table_close(rel, NoLock);
  if (written != static_cast<uint64>(n))
    elog(ERROR, "rulekeeper: journal COPY wrote " UINT64_FORMAT " of %d entries", written, n);
  txn::origin_seq_used(first + n - 1, prev);
}

Datum new_change_id() {
  // Strong random bytes drawn 1 KiB at a time: each pg_strong_random() call
  // has a fixed cost (OpenSSL's DRBG reseed and fork checks) that was a third
  // of the BEFORE INSERT trigger in a 100,000-version import (bench/README.md
  // "Releases and channels"). The bytes are the same CSPRNG's, used once each;
  // the buffer is this backend's alone (filled after fork, never shared).
  static uint8 random_pool[64 * UUID_LEN];
  static int pool_used = sizeof random_pool;
  if (pool_used == static_cast<int>(sizeof random_pool)) {
    if (!pg_strong_random(random_pool, sizeof random_pool))
      ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate a random change_id")));
    pool_used = 0;
  }
  pg_uuid_t* id = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
  std::memcpy(id->data, random_pool + pool_used, UUID_LEN);
  // Forgotten as soon as used: a later read of the pool cannot yield an id.
  std::memset(random_pool + pool_used, 0, UUID_LEN);
  pool_used += UUID_LEN;
  id->data[6] = (id->data[6] & 0x0f) | 0x40;  // version 4
  id->data[8] = (id->data[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return UUIDPGetDatum(id);
}

Datum append(const char* kind, const char* rule_key, const char* label, const char* payload_json, Datum change_id) {
  const char* site = require_site("journaling a change");
  require_writable_node("journaling a change");
  promotion::before_journal_entry(kind);  // the first write after a promotion records it first
  txn::OriginSlot origin = txn::current_origin(site);

  MemoryContext caller = CurrentMemoryContext;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  if (change_id == (Datum)0) change_id = new_change_id();
  // origin_seq = max + 1 under the site lock (txn_state.hpp): gapless, in
  // commit order, and no counter row updated once per entry.
  int64 seq = txn::next_origin_seq(origin.site, origin.incarnation, read_max_seq);
  // The entry's hash, chained to the previous one of its origin (contract.md
  // "Journal hash chain"): actor and recorded_at are given so that what is
  // hashed is what is stored.
  const char* actor = GetUserNameFromId(GetSessionUserId(), false);
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  char* hash = chain::entry_hash(txn::origin_prev_hash(), DatumGetCString(DirectFunctionCall1(uuid_out, change_id)),
                                 origin.site, origin.incarnation, seq, kind, rule_key, label, payload_json, actor,
                                 chain::recorded_at_text(now));
  Oid types[11] = {TEXTOID, INT4OID, TEXTOID, TEXTOID,        TEXTOID, TEXTOID,
                   UUIDOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID};
  saved_plan(&plan_append,
             "INSERT INTO rulekeeper.journal (change_id, origin_site, origin_incarnation, origin_seq, kind, rule_key, "
             "label, payload, actor, recorded_at, entry_hash) VALUES ($7, $1, $2, $8, $3, $4, $5, "
             "COALESCE($6::pg_catalog.jsonb, '{}'::pg_catalog.jsonb), $9, $10, $11) "
             "RETURNING change_id",
             11, types);
  Datum values[11] = {CStringGetTextDatum(origin.site),
                      Int32GetDatum(origin.incarnation),
                      CStringGetTextDatum(kind),
                      rule_key ? CStringGetTextDatum(rule_key) : (Datum)0,
                      label ? CStringGetTextDatum(label) : (Datum)0,
                      payload_json ? CStringGetTextDatum(payload_json) : (Datum)0,
                      change_id,
                      Int64GetDatum(seq),
                      CStringGetTextDatum(actor),
                      TimestampTzGetDatum(now),
                      CStringGetTextDatum(hash)};
  char nulls[11] = {' ', ' ', ' ', rule_key ? ' ' : 'n', label ? ' ' : 'n', payload_json ? ' ' : 'n', ' ', ' ',
                    ' ', ' ', ' '};
  int rc = SPI_execute_plan(plan_append, values, nulls, false, 1);
  if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
    elog(ERROR, "rulekeeper: journal append failed: %s", SPI_result_code_string(rc));
  txn::origin_seq_used(seq, hash);
  bool isnull;
  Datum id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
  // Copy the uuid out of SPI's memory before SPI_finish frees it.
  pg_uuid_t* copy = static_cast<pg_uuid_t*>(MemoryContextAlloc(caller, sizeof(pg_uuid_t)));
  std::memcpy(copy, DatumGetUUIDP(id), sizeof(pg_uuid_t));
  SPI_finish();
  return UUIDPGetDatum(copy);
}

void check(Datum change_id, const char* kind, const char* rule_key, const char* label) {
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  Oid types[1] = {UUIDOID};
  saved_plan(&plan_check,
             "SELECT kind, rule_key, label FROM rulekeeper.journal WHERE change_id OPERATOR(pg_catalog.=) $1", 1,
             types);
  Datum values[1] = {change_id};
  int rc = SPI_execute_plan(plan_check, values, nullptr, true, 1);
  if (rc != SPI_OK_SELECT) elog(ERROR, "rulekeeper: journal lookup failed: %s", SPI_result_code_string(rc));
  char* id_text = DatumGetCString(DirectFunctionCall1(uuid_out, change_id));
  if (SPI_processed != 1)
    ereport(ERROR,
            (errcode(ERRCODE_FOREIGN_KEY_VIOLATION), errmsg("change_id %s is not in rulekeeper.journal", id_text),
             errhint("Leave change_id empty and the row journals itself; restore the journal before the rows that "
                     "refer to it.")));
  HeapTuple tup = SPI_tuptable->vals[0];
  TupleDesc desc = SPI_tuptable->tupdesc;
  const char* want[3] = {kind, rule_key, label};
  const char* names[3] = {"kind", "rule_key", "label"};
  for (int i = 0; i < 3; ++i) {
    if (want[i] == nullptr) continue;
    char* got = SPI_getvalue(tup, desc, i + 1);
    if (got == nullptr || strcmp(got, want[i]) != 0)
      ereport(ERROR, (errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
                      errmsg("change_id %s does not describe this row: journal has %s \"%s\", the row has \"%s\"",
                             id_text, names[i], got ? got : "(null)", want[i])));
  }
  SPI_finish();
}

}  // namespace rulekeeper::pg::journal
