// Triggers on rulekeeper.rule_version, the hot path of every write:
//
//  BEFORE INSERT  computes label, bucket and content_sha256 (or checks the
//                 ones a restored row carries), gives a new version its
//                 arrival qualification and a fresh change_id; a row that
//                 arrives with a change_id (pg_restore, reconcile) has it
//                 checked against the journal instead;
//  AFTER INSERT   queues the journal entry of a new row (only rows that
//                 really landed fire it: not one skipped by ON CONFLICT DO
//                 NOTHING) and adds the entry digest to its bucket's delta;
//  AFTER INSERT   (for each statement) writes the statement's queued
//                 entries in one COPY.
//
// The change_id foreign key is DEFERRABLE INITIALLY DEFERRED because the row
// exists (in the statement) a moment before its journal entry does.
//
// The other tables' triggers are PL/pgSQL in sql/ (sql/udfs/_journal_row): they
// are not on a per-version hot path.
#include "content.hpp"
#include "journal.hpp"
#include "jsonb_canonical.hpp"
#include "settings.hpp"
#include "txn_state.hpp"
#include "guard.hpp"
#include "rulekeeper/lifecycle.hpp"

extern "C" {
#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/uuid.h"
}

#include <cstring>

namespace {

// Column numbers of rule_version, looked up once per relation and layout.
struct VersionColumns {
  Oid relid = InvalidOid;
  int natts = 0;
  int rule_key, version, hotfix, label, body, content_sha256, bucket, qualification, origin, origin_site, parent_label,
      change_id;
};
VersionColumns columns;

int column(TupleDesc desc, const char* name) {
  int attnum = SPI_fnumber(desc, name);
  if (attnum <= 0) elog(ERROR, "rulekeeper: rule_version has no column %s", name);
  return attnum;
}

const VersionColumns& version_columns(Relation rel) {
  TupleDesc desc = RelationGetDescr(rel);
  if (columns.relid == RelationGetRelid(rel) && columns.natts == desc->natts) return columns;
  VersionColumns c;
  c.relid = RelationGetRelid(rel);
  c.natts = desc->natts;
  c.rule_key = column(desc, "rule_key");
  c.version = column(desc, "version");
  c.hotfix = column(desc, "hotfix");
  c.label = column(desc, "label");
  c.body = column(desc, "body");
  c.content_sha256 = column(desc, "content_sha256");
  c.bucket = column(desc, "bucket");
  c.qualification = column(desc, "qualification");
  c.origin = column(desc, "origin");
  c.origin_site = column(desc, "origin_site");
  c.parent_label = column(desc, "parent_label");
  c.change_id = column(desc, "change_id");
  columns = c;
  return columns;
}

// A row taken apart once (heap_deform_tuple), for triggers that read many of
// its columns. Plain data: no destructor.
struct Row {
  Datum* values;
  bool* nulls;
  Row(HeapTuple tuple, TupleDesc desc)
      : values(static_cast<Datum*>(palloc(sizeof(Datum) * desc->natts))),
        nulls(static_cast<bool*>(palloc(sizeof(bool) * desc->natts))) {
    heap_deform_tuple(tuple, desc, values, nulls);
  }
  bool is_null(int attnum) const { return nulls[attnum - 1]; }
  Datum value(int attnum) const { return values[attnum - 1]; }
  char* cstring(int attnum) const { return nulls[attnum - 1] ? nullptr : TextDatumGetCString(values[attnum - 1]); }
};

void require_trigger(FunctionCallInfo fcinfo, const char* name, bool before, bool row) {
  if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "%s: not called as a trigger", name);
  TriggerData* td = reinterpret_cast<TriggerData*>(fcinfo->context);
  bool fired_before = TRIGGER_FIRED_BEFORE(td->tg_event);
  bool fired_for_row = TRIGGER_FIRED_FOR_ROW(td->tg_event);
  if (fired_before != before || fired_for_row != row || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
    elog(ERROR, "%s: must be a %s INSERT %s trigger", name, before ? "BEFORE" : "AFTER", row ? "ROW" : "STATEMENT");
}

// The qualification a new row gets (or, given, may have) at this site.
const char* born_qualification(const char* given, bool restored, const char* rule_key, const char* label) {
  if (restored) {
    if (given == nullptr)
      ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
                      errmsg("restored version %s of rule \"%s\" has no qualification", label, rule_key)));
    bool known = rulekeeper::pg::guarded([&] { return rulekeeper::find_qualification(given) != nullptr; });
    if (!known)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown qualification \"%s\"", given)));
    return given;
  }
  const char* env = rulekeeper::pg::environment_setting();
  if (env[0] == '\0')
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("rulekeeper.environment is not set on this node (site %s); a new rule version needs it",
                           rulekeeper::pg::site_setting()[0] ? rulekeeper::pg::site_setting() : "unset"),
                    errhint("Set rulekeeper.environment to e1, e2 or e3 in this node's own settings, then reload.")));
  if (given == nullptr) {
    const char* arrival = rulekeeper::pg::guarded(
        [&] { return rulekeeper::arrival_qualification(*rulekeeper::parse_environment(env)).data(); });
    return arrival;
  }
  // A version may be born only with an initial qualification of this environment.
  bool ok = rulekeeper::pg::guarded([&] {
    for (const auto& q : rulekeeper::qualifications())
      if (q.name == given && q.initial && rulekeeper::to_string(q.environment) == env) return true;
    return false;
  });
  if (!ok)
    ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                    errmsg("a new version cannot be born with qualification \"%s\" in environment %s", given, env),
                    errhint("New versions start as draft (e1), in_test (e2), awaiting_sl, hotfix or recovered (e3); "
                            "later qualifications come from rulekeeper.transition().")));
  return given;
}

// {"content_sha256": ..., "qualification": ..., "origin": ..., "parent_label": ...}
char* version_payload(const char* content, const char* qualification, const char* origin, const char* parent) {
  StringInfoData buf;
  initStringInfo(&buf);
  appendStringInfoString(&buf, "{\"content_sha256\":");
  escape_json(&buf, content);
  appendStringInfoString(&buf, ",\"qualification\":");
  escape_json(&buf, qualification);
  if (origin) {
    appendStringInfoString(&buf, ",\"origin\":");
    escape_json(&buf, origin);
  }
  if (parent) {
    appendStringInfoString(&buf, ",\"parent_label\":");
    escape_json(&buf, parent);
  }
  appendStringInfoChar(&buf, '}');
  return buf.data;
}

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_rule_version_before_insert);
PGDLLEXPORT Datum rk_rule_version_before_insert(PG_FUNCTION_ARGS) {
  require_trigger(fcinfo, "rk_rule_version_before_insert", true, true);
  TriggerData* td = reinterpret_cast<TriggerData*>(fcinfo->context);
  Relation rel = td->tg_relation;
  TupleDesc desc = RelationGetDescr(rel);
  HeapTuple tuple = td->tg_trigtuple;
  const VersionColumns& c = version_columns(rel);

  // One pass over the row (most columns read here come after the body).
  Row row(tuple, desc);
  char* rule_key = row.cstring(c.rule_key);
  if (rule_key == nullptr) ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION), errmsg("rule_key must not be null")));
  Datum version_d = row.value(c.version);
  if (row.is_null(c.version)) ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION), errmsg("version must not be null")));
  int32 hotfix = row.is_null(c.hotfix) ? 0 : DatumGetInt32(row.value(c.hotfix));
  char* label = rulekeeper::pg::content::label_text(DatumGetInt32(version_d), hotfix);

  char* given_label = row.cstring(c.label);
  if (given_label && strcmp(given_label, label) != 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("label \"%s\" does not match version %d, hotfix %d (label \"%s\")", given_label,
                           DatumGetInt32(version_d), hotfix, label)));

  Datum body_d = row.value(c.body);
  if (row.is_null(c.body)) ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION), errmsg("body must not be null")));
  Jsonb* body = DatumGetJsonbP(body_d);
  if (!JB_ROOT_IS_OBJECT(body) || JB_ROOT_IS_SCALAR(body))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("the body of version %s of rule \"%s\" must be a JSON object", label, rule_key)));
  // Size limit for new rows, before the body is canonicalized. Measured in
  // jsonb form, uncompressed (what every reader gets); a restored row (it
  // carries its change_id) was accepted once and is never refused afterwards.
  if (row.is_null(c.change_id)) {
    Size body_bytes = VARSIZE(body);
    if (body_bytes > static_cast<Size>(rulekeeper::pg::max_body_bytes_setting()))
      ereport(ERROR,
              (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
               errmsg("the body of version %s of rule \"%s\" is %zu bytes in jsonb form; "
                      "rulekeeper.max_body_bytes is %d",
                      label, rule_key, static_cast<size_t>(body_bytes), rulekeeper::pg::max_body_bytes_setting()),
               errhint("Split the rule, or raise rulekeeper.max_body_bytes on every site it travels "
                       "to (e1, e2 and all E3 nodes) and reload.")));
  }
  char* content = rulekeeper::pg::jsonb_jcs::content_sha256(body);
  char* given_content = row.cstring(c.content_sha256);
  if (given_content && strcmp(given_content, content) != 0)
    ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                    errmsg("content_sha256 %s given for version %s of rule \"%s\" does not match its body (%s)",
                           given_content, label, rule_key, content)));
  int bucket = rulekeeper::pg::content::bucket_of(rule_key);

  Datum change_id = row.value(c.change_id);
  bool restored = !row.is_null(c.change_id);
  // A given change_id must name the journal entry that describes this row.
  if (restored) rulekeeper::pg::journal::check(change_id, "version", rule_key, label);
  char* qualification = row.cstring(c.qualification);
  const char* born = born_qualification(qualification, restored, rule_key, label);
  char* origin_site = row.cstring(c.origin_site);

  if (!restored) {
    const char* site = rulekeeper::pg::require_site("a new rule version");
    rulekeeper::pg::require_writable_node("a new rule version");
    change_id = rulekeeper::pg::journal::new_change_id();
    rulekeeper::pg::txn::remember_pending_change(DatumGetUUIDP(change_id)->data);
    if (origin_site == nullptr) origin_site = pstrdup(site);
  }

  int natts = desc->natts;
  Datum* values = static_cast<Datum*>(palloc0(sizeof(Datum) * natts));
  bool* nulls = static_cast<bool*>(palloc0(sizeof(bool) * natts));
  bool* replace = static_cast<bool*>(palloc0(sizeof(bool) * natts));
  auto set = [&](int attnum, Datum value) {
    values[attnum - 1] = value;
    nulls[attnum - 1] = false;
    replace[attnum - 1] = true;
  };
  set(c.hotfix, Int32GetDatum(hotfix));
  set(c.label, CStringGetTextDatum(label));
  set(c.content_sha256, CStringGetTextDatum(content));
  set(c.bucket, Int32GetDatum(bucket));
  set(c.qualification, CStringGetTextDatum(born));
  set(c.change_id, change_id);
  if (origin_site) set(c.origin_site, CStringGetTextDatum(origin_site));
  HeapTuple result = heap_modify_tuple(tuple, desc, values, nulls, replace);
  return PointerGetDatum(result);
}

PG_FUNCTION_INFO_V1(rk_rule_version_after_insert);
PGDLLEXPORT Datum rk_rule_version_after_insert(PG_FUNCTION_ARGS) {
  require_trigger(fcinfo, "rk_rule_version_after_insert", false, true);
  TriggerData* td = reinterpret_cast<TriggerData*>(fcinfo->context);
  Relation rel = td->tg_relation;
  TupleDesc desc = RelationGetDescr(rel);
  HeapTuple tuple = td->tg_trigtuple;
  const VersionColumns& c = version_columns(rel);
  // One pass over the row: the columns read here come after the body, and
  // heap_getattr would walk the tuple from its start for each of them.
  Row row(tuple, desc);
  char* rule_key = row.cstring(c.rule_key);
  char* label = row.cstring(c.label);
  char* content = row.cstring(c.content_sha256);
  int bucket = DatumGetInt32(row.value(c.bucket));
  Datum change_id = row.value(c.change_id);
  if (rulekeeper::pg::txn::take_pending_change(DatumGetUUIDP(change_id)->data)) {
    char* qualification = row.cstring(c.qualification);
    char* origin = row.cstring(c.origin);
    char* parent = row.cstring(c.parent_label);
    rulekeeper::pg::journal::append_later("version", rule_key, label,
                                          version_payload(content, qualification, origin, parent), change_id);
  }
  uint8 digest[32];
  rulekeeper::pg::content::entry_digest(rule_key, label, content, digest);
  rulekeeper::pg::txn::add_bucket_delta(bucket, digest, false);
  return PointerGetDatum(nullptr);
}

// AFTER INSERT FOR EACH STATEMENT: writes the journal entries the row
// trigger queued, in one COPY (journal.hpp, append_later).
PG_FUNCTION_INFO_V1(rk_rule_version_journal_flush);
PGDLLEXPORT Datum rk_rule_version_journal_flush(PG_FUNCTION_ARGS) {
  require_trigger(fcinfo, "rk_rule_version_journal_flush", false, false);
  rulekeeper::pg::journal::flush_pending();
  return PointerGetDatum(nullptr);
}

}  // extern "C"
