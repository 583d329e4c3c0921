// The heartbeat background worker: once recovery is finished (so on a standby
// only after its promotion, by itself) it upserts this site's row in
// rulekeeper.heartbeat every rulekeeper.heartbeat_interval ms. A standby
// replays those rows; the age of the last one it replayed bounds how far
// behind it is, and that bound keeps working when the primary is idle (an
// idle primary writes nothing else) or gone (nothing else arrives at all).
//
// Heartbeat rows are not changes: no journal entry, no checksum. The workers
// are plain PostgreSQL C (no C++ objects), so an ereport may unwind freely.
//
// Where it beats: only where rulekeeper.environment = 'e3' (docs/in-sync.md
// "The heartbeat"): the lag bound is an E3 notion, and a beat at E1/E2 would
// only churn WAL. Elsewhere the worker idles and re-reads the setting on
// SIGHUP.
//
// Two processes, so that a node whose database does not exist yet (initdb,
// then CREATE DATABASE later) stays quiet (issue 15 item 26): a worker that
// connects to a missing database dies with FATAL, and the postmaster would
// restart it, and log it, every few seconds. The launcher (static, connected
// to no database: it reads only the shared catalog pg_database) waits until
// rulekeeper.database exists and then starts the beater (dynamic, connected
// to it), and starts it again if it ever stops. The beater waits as quietly
// for CREATE EXTENSION (one LOG line).
#include "heartbeat.hpp"
#include "promotion.hpp"
#include "settings.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace {

constexpr int kRestartSeconds = 2;
constexpr long kLauncherPollMs = 1000;

// One beat in its own transaction. Returns false when the extension is not
// installed in this database (the caller waits and tries again).
bool beat(const char* site) {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  if (!OidIsValid(get_extension_oid("rulekeeper", true))) {
    PopActiveSnapshot();
    AbortCurrentTransaction();
    return false;
  }
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper heartbeat: SPI_connect failed");
  Oid types[1] = {TEXTOID};
  Datum values[1] = {CStringGetTextDatum(site)};
  pgstat_report_activity(STATE_RUNNING, "rulekeeper heartbeat");
  int rc = SPI_execute_with_args(
      "INSERT INTO rulekeeper.heartbeat AS h (site, beat_at, beat_seq, beat_lsn) "
      "VALUES ($1, pg_catalog.clock_timestamp(), 1, pg_catalog.pg_current_wal_insert_lsn()) "
      "ON CONFLICT (site) DO UPDATE SET beat_at = excluded.beat_at, "
      "beat_seq = h.beat_seq OPERATOR(pg_catalog.+) 1, beat_lsn = excluded.beat_lsn",
      1, types, values, nullptr, false, 0);
  if (rc != SPI_OK_INSERT) elog(ERROR, "rulekeeper heartbeat: upsert failed: %s", SPI_result_code_string(rc));
  SPI_finish();
  PopActiveSnapshot();
  CommitTransactionCommand();
  pgstat_report_activity(STATE_IDLE, nullptr);
  return true;
}

}  // namespace

extern "C" {

PGDLLEXPORT void rk_heartbeat_main(Datum);
void rk_heartbeat_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  // The launcher starts it only once the database exists.
  BackgroundWorkerInitializeConnection(rulekeeper::pg::database_setting(), nullptr, 0);
  // A beat must never wait for a synchronous standby that is away.
  SetConfigOption("synchronous_commit", "local", PGC_USERSET, PGC_S_SESSION);
  SetConfigOption("application_name", "rulekeeper heartbeat", PGC_USERSET, PGC_S_SESSION);
  pgstat_report_appname("rulekeeper heartbeat");

  bool warned_unset = false;
  bool said_no_extension = false;
  // This worker runs only once recovery is finished, on the timeline it
  // will keep: the promotion that ended recovery (if any) is recorded once
  // per start, before the first beat (promotion.hpp). A crash before that
  // leaves it to the next start.
  bool promotion_checked = false;
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    int interval = rulekeeper::pg::heartbeat_interval_ms();
    const char* site = rulekeeper::pg::site_setting();
    const bool at_e3 = strcmp(rulekeeper::pg::environment_setting(), "e3") == 0;
    if (!promotion_checked && site[0] != '\0' && at_e3)
      promotion_checked = rulekeeper::pg::promotion::record_in_worker();
    if (interval > 0 && site[0] != '\0' && at_e3) {
      warned_unset = false;
      if (beat(site)) {
        said_no_extension = false;
      } else if (!said_no_extension) {
        ereport(LOG, (errmsg("rulekeeper heartbeat: waiting for CREATE EXTENSION rulekeeper in database \"%s\"",
                             rulekeeper::pg::database_setting())));
        said_no_extension = true;
      }
    } else if (interval > 0 && at_e3 && !warned_unset) {
      ereport(WARNING, (errmsg("rulekeeper heartbeat: rulekeeper.site is not set; not beating")));
      warned_unset = true;
    }
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, interval > 0 ? interval : 1000,
                    PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}

// True when `name` is a database of this cluster. A heap scan of the shared
// catalog pg_database, as the autovacuum launcher's get_database_list()
// does: a process connected to no database cannot use the syscache or an
// index (they would read pg_class).
static bool database_exists(const char* name) {
  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  (void)GetTransactionSnapshot();
  Relation rel = table_open(DatabaseRelationId, AccessShareLock);
  TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
  bool exists = false;
  for (HeapTuple tup; !exists && (tup = heap_getnext(scan, ForwardScanDirection)) != nullptr;)
    exists = strcmp(NameStr(reinterpret_cast<Form_pg_database>(GETSTRUCT(tup))->datname), name) == 0;
  table_endscan(scan);
  table_close(rel, AccessShareLock);
  CommitTransactionCommand();
  return exists;
}

PGDLLEXPORT void rk_heartbeat_launcher_main(Datum);
void rk_heartbeat_launcher_main(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  pgstat_report_appname("rulekeeper heartbeat launcher");

  BackgroundWorkerHandle* beater = nullptr;
  bool warned_no_slot = false;
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    pid_t pid;
    const bool running = beater != nullptr && GetBackgroundWorkerPid(beater, &pid) != BGWH_STOPPED;
    if (!running && database_exists(rulekeeper::pg::database_setting())) {
      if (beater != nullptr) pfree(beater);
      beater = nullptr;
      BackgroundWorker worker;
      memset(&worker, 0, sizeof worker);
      worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
      worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
      worker.bgw_restart_time = BGW_NEVER_RESTART;  // this loop starts it again
      worker.bgw_notify_pid = MyProcPid;
      snprintf(worker.bgw_library_name, BGW_MAXLEN, "rulekeeper");
      snprintf(worker.bgw_function_name, BGW_MAXLEN, "rk_heartbeat_main");
      snprintf(worker.bgw_name, BGW_MAXLEN, "rulekeeper heartbeat");
      snprintf(worker.bgw_type, BGW_MAXLEN, "rulekeeper heartbeat");
      if (!RegisterDynamicBackgroundWorker(&worker, &beater)) {
        beater = nullptr;
        if (!warned_no_slot)
          ereport(WARNING, (errmsg("rulekeeper heartbeat: no background worker slot free; not beating"),
                            errhint("Raise max_worker_processes.")));
        warned_no_slot = true;
      } else {
        warned_no_slot = false;
      }
    }
    // Woken early when the beater starts or stops (bgw_notify_pid).
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                    running ? kRestartSeconds * 1000L : kLauncherPollMs, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}

}  // extern "C"

namespace rulekeeper::pg {

void register_heartbeat_worker() {
  BackgroundWorker worker;
  memset(&worker, 0, sizeof worker);
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
  worker.bgw_restart_time = kRestartSeconds;
  snprintf(worker.bgw_library_name, BGW_MAXLEN, "rulekeeper");
  snprintf(worker.bgw_function_name, BGW_MAXLEN, "rk_heartbeat_launcher_main");
  snprintf(worker.bgw_name, BGW_MAXLEN, "rulekeeper heartbeat launcher");
  snprintf(worker.bgw_type, BGW_MAXLEN, "rulekeeper heartbeat launcher");
  RegisterBackgroundWorker(&worker);
}

}  // namespace rulekeeper::pg
