// The heartbeat background worker: once recovery is finished (so on a standby
// only after its promotion, by itself) it upserts this site's row in
// rulekeeper.heartbeat every rulekeeper.heartbeat_interval ms. A standby
// replays those rows; the age of the last one it replayed bounds how far
// behind it is, and that bound keeps working when the primary is idle (an
// idle primary writes nothing else) or gone (nothing else arrives at all).
//
// Heartbeat rows are not changes: no journal entry, no checksum. The worker
// is plain PostgreSQL C (no C++ objects), so an ereport may unwind freely;
// an ERROR ends the process and the postmaster starts it again after
// kRestartSeconds — which is also how it waits for its database or the
// extension to be created.
#include "heartbeat.hpp"
#include "settings.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
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

// One beat in its own transaction. Returns false when the extension is not
// installed in this database (the caller exits; the postmaster retries).
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
  // FATAL (and a retry after kRestartSeconds) while the database is missing.
  BackgroundWorkerInitializeConnection(rulekeeper::pg::database_setting(), nullptr, 0);
  // A beat must never wait for a synchronous standby that is away.
  SetConfigOption("synchronous_commit", "local", PGC_USERSET, PGC_S_SESSION);
  SetConfigOption("application_name", "rulekeeper heartbeat", PGC_USERSET, PGC_S_SESSION);
  pgstat_report_appname("rulekeeper heartbeat");

  bool warned_unset = false;
  for (;;) {
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
    }
    int interval = rulekeeper::pg::heartbeat_interval_ms();
    const char* site = rulekeeper::pg::site_setting();
    if (interval > 0 && site[0] != '\0') {
      warned_unset = false;
      if (!beat(site)) {
        ereport(LOG, (errmsg("rulekeeper heartbeat: extension rulekeeper is not installed in database "
                             "\"%s\"; retrying in %d s",
                             rulekeeper::pg::database_setting(), kRestartSeconds)));
        proc_exit(1);
      }
    } else if (interval > 0 && !warned_unset) {
      ereport(WARNING, (errmsg("rulekeeper heartbeat: rulekeeper.site is not set; not beating")));
      warned_unset = true;
    }
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, interval > 0 ? interval : 1000,
                    PG_WAIT_EXTENSION);
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
  snprintf(worker.bgw_function_name, BGW_MAXLEN, "rk_heartbeat_main");
  snprintf(worker.bgw_name, BGW_MAXLEN, "rulekeeper heartbeat");
  snprintf(worker.bgw_type, BGW_MAXLEN, "rulekeeper heartbeat");
  RegisterBackgroundWorker(&worker);
}

}  // namespace rulekeeper::pg
