// The change journal: every change appends one row with a gapless origin_seq
// per (site, incarnation). Rows that arrive already carrying a change_id
// (pg_restore, reconcile) are checked, never journaled twice.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace rulekeeper::pg::journal {

// Appends an entry of this site and returns its change_id (a uuid Datum in the
// caller's memory context). payload_json is JSON text (may be null for '{}').
// rule_key and label may be null. With change_id given (a uuid Datum from
// new_change_id()), the entry takes that id.
Datum append(const char* kind, const char* rule_key, const char* label, const char* payload_json,
             Datum change_id = (Datum)0);

// Queues an entry for this statement's flush_pending() instead of inserting
// it now: the rule_version AFTER INSERT row trigger (one entry per version)
// queues, its AFTER INSERT statement trigger flushes — one COPY of all the
// statement's entries instead of one INSERT each. change_id is required
// (the row already carries it). Entries queued in a subtransaction that
// aborts are dropped with it; an entry still queued at commit is an ERROR
// (never silently lost).
void append_later(const char* kind, const char* rule_key, const char* label, const char* payload_json, Datum change_id);

// Writes every queued entry, in queue order, with consecutive origin_seq.
void flush_pending();

// Transaction callbacks of the queue (called from _PG_init).
void register_callbacks();

// A fresh random (version 4) uuid, palloc'd, for a row whose journal entry
// is appended later in the same statement (see triggers.cpp).
Datum new_change_id();

// ERROR unless the journal holds change_id with this kind, rule_key and label
// (null arguments are not compared): a given change_id must describe its row.
void check(Datum change_id, const char* kind, const char* rule_key, const char* label);

}  // namespace rulekeeper::pg::journal
