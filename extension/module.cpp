// The module's entry: magic block and _PG_init (settings, transaction
// callbacks, the heartbeat worker when preloaded).
#include "heartbeat.hpp"
#include "journal.hpp"
#include "settings.hpp"
#include "txn_audit.hpp"
#include "txn_state.hpp"

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

PG_MODULE_MAGIC;
}

#include <cstring>

namespace {

// Loaded into a running session (CREATE EXTENSION, a call of one of its
// functions, LOAD) instead of by the postmaster: the library cannot work
// there — rulekeeper.database is PGC_POSTMASTER, and defining it after
// startup is PostgreSQL's FATAL "cannot create PGC_POSTMASTER variables
// after startup", which used to end the session (issue #17 item 3) — so
// _PG_init refuses with an ERROR that says what to change instead.
//
// An ERROR in _PG_init leaves the library in the session's list of loaded
// libraries (dfmgr.c links it in before calling _PG_init) and _PG_init never
// runs again: the next CREATE EXTENSION would then create every function
// silently, and the next call would run with no settings and no journal or
// audit callbacks. So before raising, _PG_init installs two hooks that keep
// refusing for the rest of the session: one for the statements that load or
// install the library, one for every call of one of its C functions
// (fmgr asks needs_fmgr_hook before it resolves a non-builtin function).
bool preload_missing = false;
ProcessUtility_hook_type previous_utility_hook = nullptr;
needs_fmgr_hook_type previous_needs_fmgr_hook = nullptr;

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

// "$libdir/rulekeeper", "/usr/lib/.../rulekeeper.so", "rulekeeper": this library.
bool names_this_library(const char* file) {
  if (file == nullptr) return false;
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  const std::size_t n = std::strlen("rulekeeper");
  return std::strncmp(base, "rulekeeper", n) == 0 && (base[n] == '\0' || std::strcmp(base + n, DLSUFFIX) == 0);
}

void utility_without_preload(PlannedStmt* pstmt, const char* query_string, bool read_only_tree,
                             ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* query_env,
                             DestReceiver* dest, QueryCompletion* qc) {
  Node* stmt = pstmt->utilityStmt;
  if ((IsA(stmt, CreateExtensionStmt) &&
       std::strcmp(reinterpret_cast<CreateExtensionStmt*>(stmt)->extname, "rulekeeper") == 0) ||
      (IsA(stmt, AlterExtensionStmt) &&
       std::strcmp(reinterpret_cast<AlterExtensionStmt*>(stmt)->extname, "rulekeeper") == 0) ||
      (IsA(stmt, LoadStmt) && names_this_library(reinterpret_cast<LoadStmt*>(stmt)->filename)))
    refuse_without_preload();
  if (previous_utility_hook)
    previous_utility_hook(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
  else
    standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
}

bool needs_fmgr_without_preload(Oid fn_oid) {
  HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
  if (HeapTupleIsValid(tuple)) {
    bool ours = false;
    if (reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple))->prolang == ClanguageId) {
      bool isnull = true;
      Datum probin = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_probin, &isnull);
      ours = !isnull && names_this_library(TextDatumGetCString(probin));
    }
    ReleaseSysCache(tuple);
    if (ours) refuse_without_preload();
  }
  return previous_needs_fmgr_hook ? previous_needs_fmgr_hook(fn_oid) : false;
}

}  // namespace

extern "C" {

PGDLLEXPORT void _PG_init(void);
void _PG_init(void) {
  if (!process_shared_preload_libraries_in_progress) {
    if (!preload_missing) {
      preload_missing = true;
      previous_utility_hook = ProcessUtility_hook;
      ProcessUtility_hook = utility_without_preload;
      previous_needs_fmgr_hook = needs_fmgr_hook;
      needs_fmgr_hook = needs_fmgr_without_preload;
    }
    refuse_without_preload();
  }
  rulekeeper::pg::define_settings();
  rulekeeper::pg::txn::register_callbacks();
  rulekeeper::pg::txn_audit::register_callbacks();
  rulekeeper::pg::journal::register_callbacks();
  // The postmaster starts the worker (the library is preloaded: above).
  rulekeeper::pg::register_heartbeat_worker();
}
}
