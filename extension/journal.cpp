// Journal appends and checks (see journal.hpp). Plain PostgreSQL C, no C++
// objects: every error here may longjmp freely.
#include "journal.hpp"

#include "settings.hpp"
#include "spi_plans.hpp"
#include "txn_state.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
}

#include <cstring>

namespace rulekeeper::pg::journal {
namespace {

SPIPlanPtr plan_append = nullptr;
SPIPlanPtr plan_check = nullptr;


}  // namespace

Datum new_change_id() {
    pg_uuid_t* id = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    if (!pg_strong_random(id->data, UUID_LEN))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate a random change_id")));
    id->data[6] = (id->data[6] & 0x0f) | 0x40;  // version 4
    id->data[8] = (id->data[8] & 0x3f) | 0x80;  // RFC 4122 variant
    return UUIDPGetDatum(id);
}

Datum append(const char* kind, const char* rule_key, const char* label, const char* payload_json, Datum change_id) {
    const char* site = require_site("journaling a change");
    require_writable_node("journaling a change");
    txn::OriginSlot origin = txn::current_origin(site);

    MemoryContext caller = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
    if (change_id == (Datum)0) change_id = new_change_id();
    // origin_seq = max + 1 from the unique index, in the insert itself, under
    // the site lock and with the latest snapshot (so also under REPEATABLE
    // READ): gapless, and no counter row updated once per entry.
    Oid types[7] = {TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, UUIDOID};
    saved_plan(&plan_append,
          "INSERT INTO rulekeeper.journal (change_id, origin_site, origin_incarnation, origin_seq, kind, rule_key, "
          "label, payload, actor) SELECT $7, $1, $2, COALESCE((SELECT j.origin_seq FROM rulekeeper.journal j "
          "WHERE j.origin_site OPERATOR(pg_catalog.=) $1 AND j.origin_incarnation OPERATOR(pg_catalog.=) $2 "
          "ORDER BY j.origin_seq DESC LIMIT 1), 0) OPERATOR(pg_catalog.+) 1, $3, $4, $5, "
          "COALESCE($6::pg_catalog.jsonb, '{}'::pg_catalog.jsonb), session_user "
          "RETURNING change_id",
          7, types);
    Datum values[7] = {CStringGetTextDatum(origin.site),
                       Int32GetDatum(origin.incarnation),
                       CStringGetTextDatum(kind),
                       rule_key ? CStringGetTextDatum(rule_key) : (Datum)0,
                       label ? CStringGetTextDatum(label) : (Datum)0,
                       payload_json ? CStringGetTextDatum(payload_json) : (Datum)0,
                       change_id};
    char nulls[7] = {' ', ' ', ' ', rule_key ? ' ' : 'n', label ? ' ' : 'n', payload_json ? ' ' : 'n', ' '};
    int rc = SPI_execute_snapshot(plan_append, values, nulls, GetLatestSnapshot(), InvalidSnapshot, false, true, 1);
    if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
        elog(ERROR, "rulekeeper: journal append failed: %s", SPI_result_code_string(rc));
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
          "SELECT kind, rule_key, label FROM rulekeeper.journal WHERE change_id OPERATOR(pg_catalog.=) $1", 1, types);
    Datum values[1] = {change_id};
    int rc = SPI_execute_plan(plan_check, values, nullptr, true, 1);
    if (rc != SPI_OK_SELECT) elog(ERROR, "rulekeeper: journal lookup failed: %s", SPI_result_code_string(rc));
    char* id_text = DatumGetCString(DirectFunctionCall1(uuid_out, change_id));
    if (SPI_processed != 1)
        ereport(ERROR, (errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
                        errmsg("change_id %s is not in rulekeeper.journal", id_text),
                        errhint("Leave change_id empty and the row journals itself; restore the journal before the rows that refer to it.")));
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
