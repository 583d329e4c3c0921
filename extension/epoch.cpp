// Activation epochs: incarnation << 32 | n, n taken in commit order under
// the site lock (the journal's lock), one epoch per transaction — so a
// cutover moving many rules is one epoch, pods compare one number, and
// epochs keep growing across promotions (the incarnation grows).
#include "settings.hpp"
#include "spi_plans.hpp"
#include "txn_state.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
}

namespace {

// The epoch this transaction took, if any (reset at its end).
TransactionId epoch_xid = InvalidTransactionId;
int64 epoch_value = 0;
SPIPlanPtr plan_max_epoch = nullptr;

}  // namespace

extern "C" {

PG_FUNCTION_INFO_V1(rk_next_epoch);
PGDLLEXPORT Datum rk_next_epoch(PG_FUNCTION_ARGS) {
  const char* site = rulekeeper::pg::require_site("an activation");
  rulekeeper::pg::require_writable_node("an activation");
  // Same top-level transaction: same epoch. A subtransaction that took it
  // and rolled back leaves a gap at most, never a reuse.
  TransactionId xid = GetTopTransactionId();
  if (epoch_xid == xid) PG_RETURN_INT64(epoch_value);

  int32 incarnation = rulekeeper::pg::txn::current_incarnation(site);  // takes the site lock
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "rulekeeper: SPI_connect failed");
  rulekeeper::pg::saved_plan(&plan_max_epoch,
                             "SELECT h.epoch FROM rulekeeper.activation_history h ORDER BY h.epoch DESC LIMIT 1", 0,
                             nullptr);
  int rc = SPI_execute_snapshot(plan_max_epoch, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
  if (rc != SPI_OK_SELECT) elog(ERROR, "rulekeeper: reading the last epoch failed");
  int64 last = 0;
  if (SPI_processed == 1) {
    bool isnull;
    last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
  }
  SPI_finish();
  int64 first_of_incarnation = (static_cast<int64>(incarnation) << 32) | 1;
  epoch_value = last + 1 > first_of_incarnation ? last + 1 : first_of_incarnation;
  epoch_xid = xid;
  PG_RETURN_INT64(epoch_value);
}

// True inside an explicit (or implicit multi-statement) transaction block,
// where a procedure cannot COMMIT: wait_for_epoch refuses there clearly.
PG_FUNCTION_INFO_V1(rk_in_transaction_block);
PGDLLEXPORT Datum rk_in_transaction_block(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(IsTransactionBlock()); }

}  // extern "C"
