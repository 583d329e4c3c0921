// The module's entry: magic block and _PG_init (settings, transaction
// callbacks, the heartbeat worker when preloaded).
#include "heartbeat.hpp"
#include "journal.hpp"
#include "promotion.hpp"
#include "settings.hpp"
#include "txn_audit.hpp"
#include "txn_state.hpp"

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

PG_MODULE_MAGIC;
}

namespace {

// Loaded into a running session (CREATE EXTENSION, a call of one of its
// functions, LOAD) instead of by the postmaster, the library cannot work:
// rulekeeper.database is PGC_POSTMASTER — defining it after startup is
// PostgreSQL's FATAL "cannot create PGC_POSTMASTER variables after startup",
// which used to end the session (issue #17 item 3) — and only the postmaster
// starts the heartbeat worker. So _PG_init refuses with an ERROR that says
// what to change, before it defines or registers anything.
//
// A second attempt in the same session errors the same way: PostgreSQL
// (dfmgr.c, internal_load_library) adds a library to its list of loaded
// libraries only after _PG_init returns, so after an ERROR the next load
// calls _PG_init again (test_preload.cpp checks it for CREATE EXTENSION,
// LOAD and calls of C functions, twice in one session).
[[noreturn]] void refuse_without_preload() {
  ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                  errmsg("rulekeeper must be loaded at server start: add shared_preload_libraries = 'rulekeeper' "
                         "to postgresql.conf and restart the server"),
                  errdetail("This server was started without rulekeeper in shared_preload_libraries; the library "
                            "defines settings only the postmaster can define and starts the heartbeat worker."),
                  errhint("Append rulekeeper to shared_preload_libraries if the setting lists other libraries "
                          "(e.g. 'pg_stat_statements, rulekeeper'); a reload is not enough, the server must "
                          "restart (docs/deploy.md).")));
  pg_unreachable();
}

}  // namespace

extern "C" {

PGDLLEXPORT void _PG_init(void);
void _PG_init(void) {
  if (!process_shared_preload_libraries_in_progress) refuse_without_preload();
  rulekeeper::pg::define_settings();
  rulekeeper::pg::txn::register_callbacks();
  rulekeeper::pg::txn_audit::register_callbacks();
  rulekeeper::pg::journal::register_callbacks();
  rulekeeper::pg::promotion::register_callbacks();
  // The postmaster starts the worker (the library is preloaded: above).
  rulekeeper::pg::register_heartbeat_worker();
  rulekeeper::pg::promotion::request_shared_memory();  // rulectl's intent (promotion.hpp)
}
}
